"""Forget who sent old responses: the IP address and user agent of every comment and ping older than
ARCHIVE_KEEP_IP_DAYS are cleared. They are kept only for fighting spam and floods, which needs days, not
years. Run it daily from cron, e.g.

    17 3 * * *  cd /srv/archive && .venv/bin/python manage.py erase_commenter_data --verbosity 0

It also deletes reply-notification subscriptions never confirmed while their link lived
(ARCHIVE_MAIL_LINK_SECONDS), and with `--email ADDRESS` every subscription of that address (what the
"forget me" page does when its owner confirms; this is for requests that reach the operator instead).

One UPDATE statement, however many rows: it holds the write lock for one short statement and sends no
per-row signals (the public pages do not show either field, so the page cache stays valid). Rows already
erased are not touched again, so the count printed is what this run erased.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q
from django.utils import timezone

from archive import notify
from archive.models import Comment


def erase_commenter_data(days: int) -> int:
    """Clear ip_address and user_agent of responses created more than `days` days ago; how many changed."""
    cutoff = timezone.now() - timedelta(days=days)
    stale = Comment.objects.filter(created_at__lt=cutoff).filter(Q(ip_address__isnull=False) | ~Q(user_agent=""))
    return stale.update(ip_address=None, user_agent="")


class Command(BaseCommand):
    help = ("Erase the IP address and user agent of responses older than ARCHIVE_KEEP_IP_DAYS days, and "
            "subscriptions never confirmed (or all of --email ADDRESS).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help=f"Keep this many days instead of ARCHIVE_KEEP_IP_DAYS (default {settings.ARCHIVE_KEEP_IP_DAYS}).",
        )
        parser.add_argument("--email", action="append", default=[], help="Also delete every subscription of this "
                            "address (may be given several times).")  # fmt: skip

    def handle(self, *args, days: int | None = None, **options) -> None:
        days = settings.ARCHIVE_KEEP_IP_DAYS if days is None else days
        if days < 0:
            raise CommandError("--days must be 0 or more.")
        erased = erase_commenter_data(days)
        stale = notify.erase_stale()
        forgotten = sum(notify.forget(email) for email in options["email"])
        if options["verbosity"] >= 1:
            self.stdout.write(f"Erased the IP address and user agent of {erased} response(s) older than {days} day(s).")
            self.stdout.write(f"Deleted {stale} unconfirmed subscription(s) whose link expired.")
            if options["email"]:
                self.stdout.write(f"Deleted {forgotten} subscription(s) of {', '.join(options['email'])}.")
