"""`manage.py send_pingback SOURCE TARGET`: discover TARGET's Pingback server (X-Pingback on HEAD, then on
GET, then <link rel="pingback">), call pingback.ping(SOURCE, TARGET), print the answer."""

from archive.pings import sending

from ._send_mention import command

Command = command("Pingback", sending.send_pingback)
