"""How often one sender may ping: ARCHIVE_PINGS_PER_SENDER pings per ARCHIVE_PINGS_WINDOW_SECONDS from one
client address, counted in Django's shared cache (as the admin login's brake is). Each accepted ping costs
us a fetch of a page the sender chose, so this is what keeps a flood of pings from turning the archive
into a reflector that hammers someone else's site. A fixed window: it starts at the sender's first ping.
While the shared cache is out nothing is counted and pings are let through, as the login brake lets
attempts through (archive/loginlimit.py): refusing them would drop every ping of the outage (senders seldom
retry), and each fetch keeps its own deadline and size cap (pings/fetch.py)."""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache

KEY_PREFIX = "archive:pings-per-sender"


def allow(sender: str | None, now: float | None = None) -> bool:
    """Count one ping from `sender`; False once the sender has used up the window."""
    limit = settings.ARCHIVE_PINGS_PER_SENDER
    if limit <= 0 or not sender:
        return True
    now = time.time() if now is None else now
    key = f"{KEY_PREFIX}:{hashlib.sha256(sender.encode()).hexdigest()}"
    count, until = cache.get(key) or (0, now + settings.ARCHIVE_PINGS_WINDOW_SECONDS)
    if until <= now:
        count, until = 0, now + settings.ARCHIVE_PINGS_WINDOW_SECONDS
    if count >= limit:
        return False
    cache.set(key, (count + 1, until), timeout=max(1, math.ceil(until - now)))
    return True
