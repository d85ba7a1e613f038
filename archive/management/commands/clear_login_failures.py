"""`manage.py clear_login_failures [--username U] [--ip A]`: let someone the admin login's brake
(archive/loginlimit.py) has locked out try again now instead of at the end of the window."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from archive import loginlimit
from archive.clientip import client_address


class Command(BaseCommand):
    help = (
        "Forget failed admin logins: all of them; with --ip, those from that address; with --username, those "
        "for that username from every address; with both, that username's from that address."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", help="the username (case and surrounding spaces do not matter)")
        parser.add_argument("--ip", help="the address the site sees (behind a trusted proxy: the reader's)")

    def handle(self, *args, username: str | None, ip: str | None, **options) -> None:
        if ip is not None:
            written = ip
            ip = client_address(written)  # written as the login's counts write it (::ffff:a.b.c.d is a.b.c.d)
            if ip is None:
                raise CommandError(f"--ip: {written!r} is not an IP address")
        cleared = loginlimit.clear(username=username, ip=ip)
        self.stdout.write(f"Cleared {cleared}.")
