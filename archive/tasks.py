"""The background tasks, on Django's Tasks framework (the `django-tasks` backport; `django.tasks` from
Django 6.0). By default they are rows in the site's own database (`django-tasks-db`), run by
`manage.py task_worker`, which `make run` starts beside the web server.

Why a queue: verifying a Pingback or Webmention means fetching a stranger's page, which may take the whole
fetch deadline. Done in a web worker, twenty slow sources would stop the site; done here, the site only
writes one row per mention. The row is committed before the sender is told "accepted", so an acknowledged
mention is never lost; a worker killed mid-task leaves the row running, and the next worker to start runs
it again (see the task_worker command). Verification is idempotent (a second run updates, never
duplicates), so running twice is safe.

Retries: a fetch that fails on the network, or a source answering 5xx/429, is tried again after
ARCHIVE_FETCH_RETRY_SECONDS, then twice that, and so on, ARCHIVE_FETCH_ATTEMPTS times in all. Then the
task fails with `GaveUp`: its row shows FAILED with the reason (admin: Task results) and a warning is
logged.

Mail: a request that stores or publishes a response writes one `announce` row once its transaction has
committed (`queue_announcement`); the worker works out who is to be told (archive.notify) and writes one
`send_mail` row per mail, each sent and retried on its own: an SMTP server that is down, refuses or hangs
(EMAIL_TIMEOUT) costs the task another attempt after ARCHIVE_MAIL_RETRY_SECONDS, doubling, and after
ARCHIVE_MAIL_ATTEMPTS the task fails with `GaveUp`, in the admin like a fetch. A mail the SMTP server
refuses for good (a 5xx to the address) or that cannot be built (BadHeaderError, an address Django
cannot parse) fails at once, alone: the worker goes on with the others. No web request ever waits for SMTP.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import asdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from . import notify
from .mail import messages
from .models import Comment
from .pings import verification

logger = logging.getLogger("archive.tasks")


class GaveUp(Exception):
    """A source could not be read in ARCHIVE_FETCH_ATTEMPTS attempts, or a mail not sent."""


def retry_delay(attempt: int, first: float | None = None) -> float:
    """Seconds before attempt `attempt + 1`: exponential backoff from `first` (a fetch's by default)."""
    return (settings.ARCHIVE_FETCH_RETRY_SECONDS if first is None else first) * 2 ** (attempt - 1)


def later(delay: float) -> datetime | None:
    """When a task queued now with `delay` seconds may run (None: at once)."""
    return timezone.now() + timedelta(seconds=delay) if delay else None


def queue_verification(mention: verification.Mention, attempt: int = 1, delay: float = 0) -> None:
    verify_mention.using(run_after=later(delay)).enqueue(asdict(mention), attempt)


@task()
def verify_mention(mention: dict, attempt: int = 1) -> str:
    """Verify one queued Pingback or Webmention (archive.pings.verification) and say what happened."""
    queued = verification.Mention(**mention)
    try:
        return str(verification.verify(queued, host_wait=verification.HOST_WAIT_SECONDS))
    except verification.HostBusy as busy:
        queue_verification(queued, attempt, delay=settings.ARCHIVE_FETCH_DEADLINE_SECONDS)
        return f"deferred: another fetch from {busy} is under way"
    except verification.TryLater as failure:
        if attempt >= settings.ARCHIVE_FETCH_ATTEMPTS:
            logger.warning("gave up verifying %s -> %s after %d attempts: %s",
                           queued.source, queued.target, attempt, failure)  # fmt: skip
            raise GaveUp(f"{queued.source}: gave up after {attempt} attempts: {failure}") from failure
        delay = retry_delay(attempt)
        queue_verification(queued, attempt + 1, delay=delay)
        return f"attempt {attempt} failed ({failure}); attempt {attempt + 1} in {delay:g} s"


def queue_announcement(comment_ids: list[int], event: str) -> None:
    """Once the current transaction commits, tell whoever is to be told (nothing at all without EMAIL_URL)."""
    if settings.ARCHIVE_MAIL_ENABLED and comment_ids:
        transaction.on_commit(lambda: [announce.enqueue(pk, event) for pk in comment_ids])


def queue_mail(mail: notify.Mail, attempt: int = 1, delay: float = 0) -> None:
    send_mail.using(run_after=later(delay)).enqueue(mail.kind, mail.ids, attempt)


@task()
def announce(comment_id: int, event: str) -> str:
    """Queue every mail that a response stored or published calls for (archive.notify)."""
    comment = Comment.objects.select_related("post").get_or_none(pk=comment_id)
    mails = notify.mails_for(comment, event) if comment else []
    for mail in mails:
        queue_mail(mail)
    return f"{len(mails)} mail(s) queued: {', '.join(mail.kind for mail in mails) or 'none'}"


def refused_for_good(failure: Exception) -> bool:
    """A 5xx answer to every recipient: the address does not exist, no later attempt will do better (a 4xx,
    as greylisting answers, is worth another)."""
    if not isinstance(failure, smtplib.SMTPRecipientsRefused) or not failure.recipients:
        return False
    return all(code >= 500 for code, _ in failure.recipients.values())


@task()
def send_mail(kind: str, ids: dict, attempt: int = 1) -> str:
    """Compose one mail as things stand now (archive.mail.messages) and hand it to the SMTP server."""
    mail = notify.Mail(kind, ids)
    message = None
    try:
        message = messages.compose(mail)
        if message is not None:
            message.send()
    except ValueError as error:  # BadHeaderError, an invalid address: the same mail would fail the same way
        raise GaveUp(f"{kind} {ids}: cannot be sent: {error}") from error
    except (smtplib.SMTPException, OSError) as failure:  # down, slow, full, greylisting: try again later
        if refused_for_good(failure):
            raise GaveUp(f"{kind} {ids}: the server refuses the address: {failure}") from failure
        if attempt >= settings.ARCHIVE_MAIL_ATTEMPTS:
            logger.warning("gave up sending %s %s after %d attempts: %s", kind, ids, attempt, failure)
            raise GaveUp(f"{kind} {ids}: gave up after {attempt} attempts: {failure}") from failure
        delay = retry_delay(attempt, settings.ARCHIVE_MAIL_RETRY_SECONDS)
        queue_mail(mail, attempt + 1, delay)
        return f"{kind} {ids}: attempt {attempt} failed ({failure}); attempt {attempt + 1} in {delay:g} s"
    if message is None:
        return f"{kind} {ids}: nothing to send any more"
    return f"{kind} {ids}: sent to {len(message.recipients())} address(es)"
