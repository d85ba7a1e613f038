"""`manage.py send_webmention SOURCE TARGET`: discover TARGET's Webmention endpoint (Link header, then
<link>/<a rel="webmention">, relative URLs resolved), POST source and target, print the answer."""

from archive.pings import sending

from ._send_mention import command

Command = command("Webmention", sending.send_webmention)
