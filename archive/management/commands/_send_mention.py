"""What `send_webmention` and `send_pingback` share: SOURCE TARGET arguments, the endpoint and the answer
printed, exit status 1 (a CommandError, printed without a traceback) when there is no endpoint, the
receiver could not be reached, or it refused. Every request goes through archive.pings.fetch and its
rules: a target on a private address needs ARCHIVE_FETCH_ALLOW_PRIVATE=1."""

from __future__ import annotations

from collections.abc import Callable

from django.core.management.base import BaseCommand, CommandError

from archive.pings import sending


class SendCommand(BaseCommand):
    protocol = ""
    requires_system_checks = []  # sending needs neither the database nor the app's configuration

    @staticmethod
    def send(source: str, target: str) -> sending.Sent:
        raise NotImplementedError

    def add_arguments(self, parser):
        parser.add_argument("source", metavar="SOURCE", help="the URL of the page that links to TARGET")
        parser.add_argument("target", metavar="TARGET", help="the URL it links to")

    def handle(self, *args, source, target, **options):
        try:
            sent = self.send(source, target)
        except sending.SendError as exc:
            raise CommandError(f"not sent: {exc}", returncode=1) from None
        self.stdout.write(f"endpoint: {sent.endpoint}")
        if not sent.ok:
            raise CommandError(f"refused: {sent.message}", returncode=1)
        self.stdout.write(sent.message)


def command(protocol: str, send: Callable[[str, str], sending.Sent]) -> type[SendCommand]:
    attributes = {"protocol": protocol, "send": staticmethod(send),
                  "help": f"Send a {protocol} from SOURCE to TARGET and print the receiver's answer."}  # fmt: skip
    return type("Command", (SendCommand,), attributes)
