"""A brake on password guessing at the admin login. Failed attempts are counted in Django's cache, each
count within a fixed window of ARCHIVE_LOGIN_WINDOW_SECONDS, and attempts are answered 429 without the
password being checked at all (so a blocked guesser learns nothing) once

- one username from one client IP failed ARCHIVE_LOGIN_MAX_FAILURES times (the pair's count), or
- one client IP failed ADDRESS_FACTOR times as often, over any usernames (the address's count).

A successful login clears its pair's count. `manage.py clear_login_failures` clears counts by hand.

Why no count per username alone (there was one): anyone who knew the moderator's username could then keep
the moderator out from anywhere, five wrong passwords every window, the right password refused too. Counted
per pair, a guesser locks out only themselves; the moderator, from their own address, still gets in. What
that gives up: a guesser with many addresses gets ARCHIVE_LOGIN_MAX_FAILURES tries per address per window.
The password is the defence there (Django's validators refuse short, common and numeric ones), and no
lock that strangers can trigger for the moderator is worth that trade.

Why the address's threshold is higher than the pair's: one address may be many people (an office, a
carrier's NAT, a proxy not yet in ARCHIVE_TRUSTED_PROXIES), and one of them mistyping must not lock out the
rest; one address trying many usernames is still stopped.

Why our own and not django-axes: the admin is the only login there is, and Django's cache (shared by every
worker: the file cache by default, Redis for several machines) already holds everything this needs. Axes
would bring its own tables, an authentication backend and a middleware for the same effect.

Why `get` and `set` with an explicit timeout, not `cache.incr`: on the file and database caches `incr`
re-stores the value with the default timeout (300 s), which would cut a 15-minute window short. The window
is fixed: it starts at the first failure and is not extended by later ones. Two failures landing in the
same instant on two workers may count once; that lets a guesser through a few more times at most.

Clearing: a cache cannot list its keys, so each count's key includes generations (of everything, of the
address, of the username) and clearing moves a generation on; the counts left behind expire unread.

The client IP is the one `clientip` gives, as for comments: behind a trusted proxy, the reader's own.

While the shared cache is out (Redis gone: archive/rediscache.py holds nothing meanwhile) the brake fails
open: nothing is counted, every attempt gets its password checked. Failing closed would lock the moderator
out of the admin for as long as Redis is down, which is when they most need in; what a guesser gains is the
outage's length of unthrottled tries against passwords Django's validators already made hard, and /healthz
answering 503 meanwhile tells the operator something is wrong.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from .clientip import client_ip

KEY_PREFIX = "archive:login-failures"
ADDRESS_FACTOR = 4
NO_ADDRESS = "unknown"  # when the request names no usable client address


def _digest(*parts: str) -> str:
    """Hashed, so any bytes a client sends make a valid key for every cache backend (memcached included)."""
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def normal_username(username: str) -> str:
    return username.strip().casefold()


def _generation_keys(ip: str, name: str) -> tuple[str, str, str]:
    return (f"{KEY_PREFIX}:generation", f"{KEY_PREFIX}:generation:ip:{_digest(ip)}",
            f"{KEY_PREFIX}:generation:user:{_digest(name)}")  # fmt: skip


Counter = tuple[str, int]  # (cache key, threshold)


def counters(ip: str | None, username: str) -> tuple[Counter, Counter]:
    """The two counts one attempt touches: its address's and its pair's."""
    ip, name = ip or NO_ADDRESS, normal_username(username)
    generation_keys = _generation_keys(ip, name)
    found = cache.get_many(generation_keys)
    every, of_ip, of_user = (str(found.get(key, "0")) for key in generation_keys)
    limit = settings.ARCHIVE_LOGIN_MAX_FAILURES
    return (
        (f"{KEY_PREFIX}:ip:{_digest(every, of_ip, ip)}", limit * ADDRESS_FACTOR),
        (f"{KEY_PREFIX}:pair:{_digest(every, of_ip, of_user, ip, name)}", limit),
    )


def _window(key: str, now: float) -> tuple[int, float]:
    value = cache.get(key)
    if isinstance(value, tuple) and len(value) == 2 and value[1] > now:
        return value
    return 0, now + settings.ARCHIVE_LOGIN_WINDOW_SECONDS


def record_failure(ip: str | None, username: str, now: float | None = None) -> None:
    now = time.time() if now is None else now
    for key, _ in counters(ip, username):
        count, until = _window(key, now)
        cache.set(key, (count + 1, until), timeout=max(1, math.ceil(until - now)))


def reset(ip: str | None, username: str) -> None:
    """After a successful login: the pair's count only (the address may be shared with a guesser)."""
    _, (pair, _) = counters(ip, username)
    cache.delete(pair)


def blocked_for(ip: str | None, username: str, now: float | None = None) -> int:
    """Seconds until this username may be tried from this IP again; 0 when it may be tried now."""
    now = time.time() if now is None else now
    wait = 0.0
    for key, threshold in counters(ip, username):
        count, until = _window(key, now)
        if count >= threshold:
            wait = max(wait, until - now)
    return math.ceil(wait)


def clear(username: str | None = None, ip: str | None = None) -> str:
    """Forget failed attempts: every one; or an address's (its count and its pairs'); or a username's
    (its pairs' from every address); or, given both, that one pair's. Says what it cleared."""
    name = normal_username(username or "")
    if username is not None and ip is not None:
        reset(ip, username)
        return f"the failures of {name!r} from {ip}"
    every, of_ip, of_user = _generation_keys(ip or NO_ADDRESS, name)
    if ip is not None:
        key, what = of_ip, f"every failure from {ip}"
    elif username is not None:
        key, what = of_user, f"every failure of {name!r}"
    else:
        key, what = every, "every failure"
    cache.set(key, secrets.token_hex(8), timeout=None)  # outlives every count it names
    return what


@never_cache
def admin_login(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
    """The admin's own login view, with the brake around it. Mounted at the admin login URL, ahead of
    `admin.site.urls`. A POST answered 200 is the form shown again, i.e. a failed attempt (wrong password,
    inactive or non-staff account, missing field); one answered with a redirect logged the user in."""
    if request.method != "POST":
        return admin.site.login(request, extra_context)
    ip = client_ip(request)
    username = request.POST.get(get_user_model().USERNAME_FIELD, "")
    wait = blocked_for(ip, username)
    if wait:
        response = render(request, "archive/login_limited.html", {"minutes": math.ceil(wait / 60)}, status=429)
        response["Retry-After"] = str(wait)
        return response
    response = admin.site.login(request, extra_context)
    if response.status_code == 200:
        record_failure(ip, username)
    elif 300 <= response.status_code < 400:
        reset(ip, username)
    return response
