"""Is this server fit to take readers? What a load balancer or orchestrator asks at /healthz, and the
deployment check that catches a cache several servers cannot share.

The answer holds no personal data and is never cached: a balancer must see the state of now.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.cache import cache
from django.core.checks import Warning as CheckWarning
from django.core.checks import register
from django.db import connection

from . import pagecache


def problems() -> list[str]:
    """What does not answer: the database, the cache. Empty when both do."""
    found = []
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure means: not healthy; its kind is reported
        found.append(f"database: {type(exc).__name__}")
    try:
        probe, key = secrets.token_hex(8), "archive:healthz"
        cache.set(key, probe, timeout=30)
        if cache.get(key) != probe:  # a cache that holds nothing while it is out (rediscache) says why
            found.append(f"cache: {getattr(cache, 'unavailable', None) or 'a value set was not read back'}")
    except Exception as exc:
        found.append(f"cache: {type(exc).__name__}")
    return found


@register("archive-deploy", deploy=True)
def local_cache_with_several_servers(app_configs: object = None, **kwargs: object) -> list[CheckWarning]:
    """Several servers on a cache only one machine sees would each keep their own pages and limits."""
    if settings.ARCHIVE_SERVERS > 1 and not pagecache.is_shared_cache():
        return [
            CheckWarning(
                f"ARCHIVE_SERVERS is {settings.ARCHIVE_SERVERS} but CACHE_URL names a cache only one machine "
                "sees: each server would serve its own stale pages and count flood and login limits apart.",
                hint="Point every server at one shared cache, e.g. CACHE_URL=redis://host:6379/0.",
                id="archive.W001",
            )
        ]
    return []
