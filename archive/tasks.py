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
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_tasks import task

from .pings import verification

logger = logging.getLogger("archive.tasks")


class GaveUp(Exception):
    """The source could not be read in ARCHIVE_FETCH_ATTEMPTS attempts."""


def retry_delay(attempt: int) -> float:
    """Seconds before attempt `attempt + 1`: exponential backoff."""
    return settings.ARCHIVE_FETCH_RETRY_SECONDS * 2 ** (attempt - 1)


def queue_verification(mention: verification.Mention, attempt: int = 1, delay: float = 0) -> None:
    run_after = timezone.now() + timedelta(seconds=delay) if delay else None
    verify_mention.using(run_after=run_after).enqueue(asdict(mention), attempt)


@task()
def verify_mention(mention: dict, attempt: int = 1) -> str:
    """Verify one queued Pingback or Webmention (archive.pings.verification) and say what happened."""
    queued = verification.Mention(**mention)
    try:
        return str(verification.verify(queued))
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
