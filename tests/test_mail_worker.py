"""Mail with the production server, `manage.py task_worker` and the SMTP server as separate parts, as
deployed: a reply posts at once whatever SMTP does, and its mail goes out once SMTP is back — with the SMTP
server down, then slow, and the worker killed and started again in between."""

from __future__ import annotations

import pytest

from tests.mailhelpers import SMTPServer, assert_only_own_addresses
from tests.ping_helpers import Worker, wait_until
from tests.server import Client, Server, free_port, reply_fields

pytestmark = pytest.mark.server
MODERATOR = "moderator@example.net"
SENDER = "archive@example.net"


def attempts(server: Server) -> list[str]:
    """What each finished send_mail task said (its return value, or FAILED)."""
    rows = server.query("SELECT status, return_value FROM django_tasks_database_dbtaskresult "
                        "WHERE task_path = 'archive.tasks.send_mail' ORDER BY enqueued_at")  # fmt: skip
    return [str(value) if status == "SUCCESSFUL" else status for status, value in rows if status != "READY"]


def test_replies_post_at_once_while_smtp_is_down_or_slow_and_their_mail_goes_out_when_it_is_back():
    port = free_port()
    smtp = SMTPServer(port)  # not started: connections to it are refused
    env = {
        "EMAIL_URL": f"smtp://127.0.0.1:{port}?timeout=2",
        "DJANGO_DEFAULT_FROM_EMAIL": SENDER,
        "ARCHIVE_MODERATOR_EMAILS": MODERATOR,
        "ARCHIVE_MAIL_RETRY_SECONDS": "0.5",
        "ARCHIVE_MAIL_ATTEMPTS": "40",
        "ARCHIVE_COMMENT_MODERATION": "all",
        "ARCHIVE_COMMENT_FLOOD_SECONDS": "0",
    }
    with Server(workers=1, env=env) as server:
        post_id, slug = server.first_post()
        worker = Worker(server)
        worker.start()
        try:
            down = Client(server.url).post_reply(f"/{slug}/", reply_fields(post_id, "Posted while SMTP is down"))
            assert down.status == 302
            wait_until(lambda: any("Connection refused" in said for said in attempts(server)),
                       what="a send to fail on the refused connection")  # fmt: skip

            worker.stop(kill=True)
            smtp.delay = 10  # up again, but answering too late for the 2 s timeout
            smtp.start()
            worker.start()
            slow = Client(server.url).post_reply(f"/{slug}/", reply_fields(post_id, "Posted while SMTP is slow",
                                                                          author="Other", email="o@example.org"))
            assert slow.status == 302
            wait_until(lambda: any("timed out" in said for said in attempts(server)),
                       what="a send to time out on the slow server")  # fmt: skip
            assert smtp.received == []

            smtp.delay = 0  # back to normal: both mails go out
            received = smtp.wait_for(2)
            texts = sorted(mail.body.split("Comment:\n", 1)[1].split("\n", 1)[0] for mail in received)
            assert texts == ["Posted while SMTP is down", "Posted while SMTP is slow"]
            assert all(mail.rcpt_tos == [MODERATOR] for mail in received)
            assert_only_own_addresses(received, SENDER)
            assert "FAILED" not in attempts(server)
        finally:
            worker.stop(kill=True)
            smtp.stop()
