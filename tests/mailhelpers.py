"""A real SMTP server for the mail tests (aiosmtpd on 127.0.0.1, in a thread), and readers of what it got.

    with SMTPServer() as smtp:          # or SMTPServer(port) to come back on the same port after stop()
        ...                              # the code under test sends to 127.0.0.1:smtp.port
        smtp.wait_for(1)
        message = smtp.received[0]       # .mail_from, .rcpt_tos, .raw (bytes), .message (email.message)
        smtp.delay = 5                   # every DATA waits 5 s, then "451 try again" (a slow server)
        smtp.stop()                      # connections refused (a server that is down)
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.server import free_port

ADDRESS = re.compile(rb"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
URL = re.compile(r"https?://\S+")


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)

    def header(self, name: str) -> str:
        """A header's value as a mail client shows it (the folding of a long one leaves a space in front)."""
        return str(self.message[name] or "").strip()

    @property
    def subject(self) -> str:
        return self.header("Subject")

    @property
    def body(self) -> str:
        return self.message.get_content().replace("\r\n", "\n")

    def links(self) -> list[str]:
        return URL.findall(self.body)

    def addresses(self) -> set[str]:
        """Every email address anywhere in the mail as sent: headers, body, encoded or not."""
        decoded = self.raw + self.body.encode() + " ".join(str(v) for v in self.message.values()).encode()
        found = {match.decode().lower() for match in ADDRESS.findall(decoded)}
        message_id = str(self.message["Message-ID"] or "").lower()  # <random@this-host>: no one's address
        return {address for address in found if address not in message_id}


class SMTPServer:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.received: list[Received] = []
        self.delay = 0.0
        self.lock = threading.Lock()
        self.controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's handler hook
        if self.delay:  # the client has given up by now (its timeout): nothing was delivered
            await asyncio.sleep(self.delay)
            return "451 4.3.2 Too slow today, try again later"
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def wait_for(self, count: int, timeout: float = 60) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"the SMTP server got {len(self.received)} mail(s), not {count}, in {timeout} s")

    def __enter__(self) -> SMTPServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def assert_only_own_addresses(received: list[Received], sender: str) -> None:
    """No mail carries an address but its recipients' and the sender's (no other commenter's, anywhere)."""
    for mail in received:
        allowed = {address.lower() for address in mail.rcpt_tos} | {sender.lower()}
        foreign = mail.addresses() - allowed
        assert not foreign, f"{mail.subject!r} to {mail.rcpt_tos} carries {sorted(foreign)}"
