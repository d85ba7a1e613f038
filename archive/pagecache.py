"""The shared page cache's version: pages are stored under it, and any change to what the public sees
(a response published, moderated or removed; a post opened or closed) moves it on, so every worker and
every server sharing the cache stops serving the old pages at once."""

from __future__ import annotations

import secrets

from django.core.cache import cache

VERSION_KEY = "archive:pages:version"


def current_version() -> str:
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, secrets.token_hex(8), timeout=None)
        version = cache.get(VERSION_KEY)
    return version


def invalidate() -> None:
    """A fresh random version, not a counter: a cache that lost the key can never fall back to an old one."""
    cache.set(VERSION_KEY, secrets.token_hex(8), timeout=None)
