"""A brake on password guessing at the admin login: after ARCHIVE_LOGIN_MAX_FAILURES failed attempts
within ARCHIVE_LOGIN_WINDOW_SECONDS, from one client IP or for one username, further attempts are answered
429 without the password being checked at all (so a blocked guesser learns nothing). A successful login
clears both counts.

Why our own and not django-axes: the admin is the only login there is, and Django's cache (shared by every
worker: the file cache by default, Redis for several machines) already holds everything this needs. Axes
would bring its own tables, an authentication backend and a middleware for the same effect.

Why `get` and `set` with an explicit timeout, not `cache.incr`: on the file and database caches `incr`
re-stores the value with the default timeout (300 s), which would cut a 15-minute window short. The window
is fixed: it starts at the first failure and is not extended by later ones. Two failures landing in the
same instant on two workers may count once; that lets a guesser through a few more times at most.

The client IP is the one `clientip` gives, as for comments: behind a trusted proxy, the reader's own.
"""

from __future__ import annotations

import hashlib
import math
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


def _key(kind: str, value: str) -> str:
    """Hashed, so any bytes a client sends make a valid key for every cache backend (memcached included)."""
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{KEY_PREFIX}:{kind}:{digest}"


def keys(ip: str | None, username: str) -> list[str]:
    """The counters one attempt touches: its IP's and its username's (case-insensitive, trimmed)."""
    found = [_key("ip", ip)] if ip else []
    name = username.strip().casefold()
    if name:
        found.append(_key("user", name))
    return found


def _window(key: str, now: float) -> tuple[int, float]:
    value = cache.get(key)
    if isinstance(value, tuple) and len(value) == 2 and value[1] > now:
        return value
    return 0, now + settings.ARCHIVE_LOGIN_WINDOW_SECONDS


def record_failure(ip: str | None, username: str, now: float | None = None) -> None:
    now = time.time() if now is None else now
    for key in keys(ip, username):
        count, until = _window(key, now)
        cache.set(key, (count + 1, until), timeout=max(1, math.ceil(until - now)))


def reset(ip: str | None, username: str) -> None:
    cache.delete_many(keys(ip, username))


def blocked_for(ip: str | None, username: str, now: float | None = None) -> int:
    """Seconds until this IP and this username may try again; 0 when they may try now."""
    now = time.time() if now is None else now
    wait = 0.0
    for key in keys(ip, username):
        count, until = _window(key, now)
        if count >= settings.ARCHIVE_LOGIN_MAX_FAILURES:
            wait = max(wait, until - now)
    return math.ceil(wait)


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
