"""Fixtures of the Pingback and Webmention tests: the rules pinned, a source site on 127.0.0.1
with the fetcher's address rule lifted (ARCHIVE_FETCH_ALLOW_PRIVATE), and `run_tasks`, which runs the real
worker command (`task_worker --batch`) in this process, inside the test's database transaction."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django_tasks_db.management.commands import db_worker

from tests.ping_helpers import SourceSite


@pytest.fixture(autouse=True)
def _ping_rules(settings):
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 0
    settings.ARCHIVE_COMMENT_MODERATION = "open"  # first-time holds pings from new sites (test_trackback.py)
    settings.ARCHIVE_COMMENT_BLOCKLIST = []
    settings.ARCHIVE_FETCH_ALLOW_PRIVATE = True
    settings.ARCHIVE_FETCH_RETRY_SECONDS = 0
    settings.ARCHIVE_FETCH_ATTEMPTS = 3
    settings.ARCHIVE_FETCH_DEADLINE_SECONDS = 3
    settings.ARCHIVE_PINGS_PER_SENDER = 30


@pytest.fixture
def site():
    with SourceSite() as running:
        yield running


@pytest.fixture
def run_tasks(django_capture_on_commit_callbacks, monkeypatch):
    """The worker command in this process. Its loop calls close_old_connections(), which closes a
    connection found inside a transaction, which here is the test's own: that one call is skipped (the
    worker-process tests in test_worker.py run it unchanged)."""
    monkeypatch.setattr(db_worker, "close_old_connections", lambda: None)

    def run() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            call_command("task_worker", "--batch", "--no-startup-delay", "--interval", "0", verbosity=0)

    return run


@pytest.fixture
def target(post) -> str:
    return f"http://testserver{post.get_absolute_url()}"
