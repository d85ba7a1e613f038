"""Shared fixtures. Tests run on the real database (SQLite by default, PostgreSQL with DATABASE_URL) and
through real HTTP handling (Django's test client or a live server)."""

from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache

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
