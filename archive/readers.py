"""What the server remembers about one reader, in signed cookies only: the replies they are waiting on
(so they see them while held) and, if they asked, their name, email and website for the form.

A held reply is named by its random `pending_token`, never by its id: ids are reused after a restore
rolls them back, and a cookie naming an id would then show its bearer someone else's held reply.

A reader carrying either cookie gets a personal page, never one from the shared page cache.
"""

from __future__ import annotations

import re
from collections.abc import Container
from typing import Any

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse

# Every cookie that makes a page personal starts with this, so that one rule in a proxy or CDN in front
# ("bypass the cache when a cookie name starts with comment_author_") keeps personal pages personal. It is
# WordPress's own prefix for the same cookies, so rules written for WordPress setups fit unchanged.
PERSONAL_PREFIX = "comment_author_"
PENDING_COOKIE = PERSONAL_PREFIX + "pending"
REMEMBER_COOKIE = PERSONAL_PREFIX + "details"
AUTHOR_COOKIE = PERSONAL_PREFIX + "edit"  # the replies this browser wrote, while they may be edited
PERSONAL_COOKIES = (PENDING_COOKIE, REMEMBER_COOKIE, AUTHOR_COOKIE)
MAX_PENDING = 20
TOKEN = re.compile(r"[A-Za-z0-9_-]{22,43}")  # models.new_pending_token()


def _read(request: HttpRequest, name: str, max_age: int) -> Any:
    token = request.COOKIES.get(name)
    if not token:
        return None
    try:
        return signing.loads(token, salt=f"archive.{name}", max_age=max_age)
    except signing.BadSignature:  # also raised for an expired or garbled token
        return None


def _write(response: HttpResponse, name: str, value: Any, max_age: int) -> None:
    token = signing.dumps(value, salt=f"archive.{name}", compress=True)
    response.set_cookie(
        name, token, max_age=max_age, httponly=True, samesite="Lax", secure=settings.HTTPS
    )


def is_personal(cookie_names: Container[str]) -> bool:
    return any(name in cookie_names for name in PERSONAL_COOKIES)


def _pending(request: HttpRequest) -> list[str]:
    """The tokens of the reader's held replies, oldest first (a cookie of ids, from before, names none)."""
    value = _read(request, PENDING_COOKIE, settings.ARCHIVE_PENDING_VISIBLE_SECONDS)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str) and TOKEN.fullmatch(item)]


def pending_tokens(request: HttpRequest) -> frozenset[str]:
    return frozenset(_pending(request))


def add_pending(request: HttpRequest, response: HttpResponse, token: str) -> None:
    """Remember one more held reply; the newest MAX_PENDING are kept."""
    tokens = [*(held for held in _pending(request) if held != token), token][-MAX_PENDING:]
    _write(response, PENDING_COOKIE, tokens, settings.ARCHIVE_PENDING_VISIBLE_SECONDS)


def own_tokens(request: HttpRequest) -> frozenset[str]:
    """The `author_token`s of the replies this browser stored inside the edit window."""
    value = _read(request, AUTHOR_COOKIE, settings.ARCHIVE_EDIT_MINUTES * 60)
    if not isinstance(value, list):
        return frozenset()
    return frozenset(item for item in value if isinstance(item, str) and TOKEN.fullmatch(item))


def add_own(request: HttpRequest, response: HttpResponse, token: str) -> None:
    """Remember one more reply of this browser's; the cookie lives as long as the edit window."""
    if settings.ARCHIVE_EDIT_MINUTES <= 0:
        return
    tokens = [*(own for own in own_tokens(request) if own != token), token][-MAX_PENDING:]
    _write(response, AUTHOR_COOKIE, tokens, settings.ARCHIVE_EDIT_MINUTES * 60)


def remembered(request: HttpRequest) -> dict[str, str]:
    value = _read(request, REMEMBER_COOKIE, settings.ARCHIVE_REMEMBER_SECONDS)
    if not isinstance(value, dict):
        return {}
    return {key: value[key] for key in ("author", "email", "url") if isinstance(value.get(key), str)}


def remember(response: HttpResponse, author: str, email: str, url: str) -> None:
    _write(response, REMEMBER_COOKIE, {"author": author, "email": email, "url": url},
           settings.ARCHIVE_REMEMBER_SECONDS)  # fmt: skip


def forget(response: HttpResponse) -> None:
    response.delete_cookie(REMEMBER_COOKIE, samesite="Lax")
