"""Send a TrackBack ping: `manage.py send_trackback PING_URL --url URL [--title …] [--excerpt …]
[--blog-name …] [--timeout S]`.

Prints the receiver's answer, "error 0" or "error 1: message". Exits with status 1 (a CommandError, printed
without a traceback) when the receiver refused the ping, could not be reached, or did not answer in
TrackBack's XML.
"""

from __future__ import annotations

import argparse

from django.core.management.base import BaseCommand, CommandError

from archive import trackback


def positive_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"the timeout must be a positive number of seconds, not {value!r}")
    return seconds


class Command(BaseCommand):
    help = "Send a TrackBack ping (form-encoded UTF-8, as WordPress does) and print the receiver's answer."
    requires_system_checks = []  # sending a ping needs neither the database nor the app's configuration

    def add_arguments(self, parser):
        parser.add_argument("ping_url", metavar="PING_URL", help="the TrackBack URL the other post advertises")
        parser.add_argument("--url", required=True, help="the permalink of the post that links there")
        parser.add_argument("--title", default="", help="the title of that post")
        parser.add_argument("--excerpt", default="", help="an excerpt of that post")
        parser.add_argument("--blog-name", default="", help="the name of the blog that post is on")
        parser.add_argument(
            "--timeout", type=positive_seconds, default=10.0, help="seconds to wait for the answer (default 10)"
        )

    def handle(self, *args, ping_url, url, title, excerpt, blog_name, timeout, **options):
        try:
            answer = trackback.send(
                ping_url, url=url, title=title, excerpt=excerpt, blog_name=blog_name, timeout=timeout
            )
        except trackback.PingError as exc:
            raise CommandError(f"no TrackBack answer: {exc}", returncode=1) from None
        if answer.error:
            raise CommandError(f"error 1: {answer.message or '(the receiver gave no message)'}", returncode=1)
        self.stdout.write("error 0")
