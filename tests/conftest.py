"""Shared fixtures. Tests run on the real database (SQLite by default, PostgreSQL with DATABASE_URL) and
through real HTTP handling (Django's test client or a live server)."""

from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django_tasks_db.management.commands import db_worker

from archive import pagecache
from archive.importing import import_file
from archive.models import Post

SEED = Path(settings.BASE_DIR) / "seeds" / "000_326f7f888e732a1a.txt"
SAMPLES = Path(__file__).parent / "samples"


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts on a new page-cache version: rolled-back data must not come back from the cache."""
    cache.clear()
    pagecache.invalidate()
    yield
    cache.clear()


@pytest.fixture
def post(db) -> Post:
    """The seed article, imported the way `manage.py import_seeds` does it."""
    result = import_file(SEED)
    assert not result.failed, result
    return Post.objects.get(source_name=SEED.name)


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
