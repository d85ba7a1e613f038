"""Fixtures of the Pingback and Webmention tests: the rules pinned, a source site on 127.0.0.1
with the fetcher's address rule lifted (ARCHIVE_FETCH_ALLOW_PRIVATE). (`run_tasks` is in tests/conftest.py.)"""

from __future__ import annotations

import pytest

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
def target(post) -> str:
    return f"http://testserver{post.get_absolute_url()}"
