"""The shared page cache: anonymous readers get the article and the index from Django's cache framework,
answered before the rest of Django runs (WP Super Cache's idea, without its pitfalls).

Why it is safe:
- Pages are stored under a version that moves on whenever what the public sees changes (a response
  published, moderated or removed; a post opened or closed), so every worker and every server sharing the
  cache stops serving old pages at once. The version is random, never a counter, so a cache that lost the
  key cannot fall back to an old page.
- Only readers without personal cookies (a pending reply, a remembered name, a session) are served from
  it; the others get a page rendered for them.
- The reply form's CSRF token is never stored. A page is kept as the bytes before and after the token,
  and each reader gets their own: the secret from their own CSRF cookie, or a fresh secret sent with a
  fresh cookie. Django accepts the unmasked secret as a form token. A token therefore never travels
  without its cookie, and one reader's token never reaches another.
- The headers stored are those the full middleware stack produced (CSP, X-Frame-Options, …), so a hit
  answers with exactly the same security headers as a miss.
- Same bytes, same ETag: the ETag is a digest of the page and the reader's secret, so it is strong.
"""

from __future__ import annotations

import hashlib
import secrets
import string
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render as django_render
from django.template.loader import render_to_string
from django.utils.cache import patch_cache_control
from django.utils.http import parse_http_date_safe

from . import readers

VERSION_KEY = "archive:pages:version"
SENTINEL = "\x00csrf-token-placeholder\x00"
CSRF_CHARS = frozenset(string.ascii_letters + string.digits)
CSRF_SECRET_LENGTH = 32
BYPASS_COOKIES = (*readers.PERSONAL_COOKIES, "sessionid")
# Per reader or per response; Last-Modified is kept in the entry itself, for conditional requests.
UNSTORED_HEADERS = frozenset({"set-cookie", "content-length", "date", "etag", "last-modified"})


def current_version() -> str:
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, secrets.token_hex(8), timeout=None)
        version = cache.get(VERSION_KEY)
    return version


def invalidate() -> None:
    cache.set(VERSION_KEY, secrets.token_hex(8), timeout=None)


@dataclass(frozen=True)
class Entry:
    """A stored page: the bytes around the CSRF token (tail is None for a page without a form)."""

    head: bytes
    tail: bytes | None
    headers: tuple[tuple[str, str], ...]
    last_modified: str | None
    digest: bytes = b""

    @classmethod
    def build(cls, head: bytes, tail: bytes | None, headers: tuple, last_modified: str | None) -> Entry:
        digest = hashlib.blake2b(head + b"\x00" + (tail or b""), digest_size=16).digest()
        return cls(head, tail, headers, last_modified, digest)

    def body(self, token: str) -> bytes:
        return self.head if self.tail is None else self.head + token.encode() + self.tail

    def etag(self, token: str) -> str:
        return f'"{hashlib.blake2b(self.digest + token.encode(), digest_size=16).hexdigest()}"'


def page_key(version: str, scheme: str, host: str, path: str) -> str:
    return f"archive:page:{version}:{scheme}://{host.lower()}{path}"


def is_cacheable_request(method: str, query_string: str, cookie_names: Iterable[str]) -> bool:
    if not settings.ARCHIVE_PAGE_CACHE or method not in ("GET", "HEAD") or query_string:
        return False
    names = set(cookie_names)
    return not any(name in names for name in BYPASS_COOKIES)


def valid_secret(value: str | None) -> bool:
    return bool(value) and len(value) == CSRF_SECRET_LENGTH and set(value) <= CSRF_CHARS


def new_secret() -> str:
    """128 random bits as 32 hex digits: every one of them is a character Django allows in a CSRF secret."""
    return secrets.token_hex(CSRF_SECRET_LENGTH // 2)


_cookie_template: tuple[int, str, str] = (0, "", "")


def csrf_cookie_header(secret: str) -> str:
    """A Set-Cookie header exactly as CsrfViewMiddleware would write it (its expiry date changes each
    second, so the rest is built once a second rather than once a request)."""
    global _cookie_template
    now = int(time.time())
    stamp, before, after = _cookie_template
    if stamp != now:
        placeholder = "X" * CSRF_SECRET_LENGTH  # letters only, so the cookie value is never quoted
        before, _, after = _csrf_cookie(placeholder).partition(placeholder)
        _cookie_template = (now, before, after)
    return before + secret + after


def _csrf_cookie(secret: str) -> str:
    response = HttpResponse()
    response.set_cookie(
        settings.CSRF_COOKIE_NAME,
        secret,
        max_age=settings.CSRF_COOKIE_AGE,
        domain=settings.CSRF_COOKIE_DOMAIN,
        path=settings.CSRF_COOKIE_PATH,
        secure=settings.CSRF_COOKIE_SECURE,
        httponly=settings.CSRF_COOKIE_HTTPONLY,
        samesite=settings.CSRF_COOKIE_SAMESITE,
    )
    return response.cookies[settings.CSRF_COOKIE_NAME].OutputString()


def not_modified(entry: Entry, etag: str, if_none_match: str, if_modified_since: str) -> bool:
    if if_none_match:
        return etag in {tag.strip() for tag in if_none_match.split(",")} or if_none_match.strip() == "*"
    if if_modified_since and entry.last_modified:
        since = parse_http_date_safe(if_modified_since)
        modified = parse_http_date_safe(entry.last_modified)
        return since is not None and modified is not None and modified <= since
    return False


@dataclass(frozen=True)
class Hit:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def answer(entry: Entry, method: str, csrf_cookie: str | None, if_none_match: str, if_modified_since: str) -> Hit:
    """The response to one reader for a stored page: their token, their ETag, a 304 when they have it."""
    headers = list(entry.headers)
    secret = csrf_cookie if valid_secret(csrf_cookie) else None
    if entry.tail is not None:
        secret = secret or new_secret()
        headers.append(("Set-Cookie", csrf_cookie_header(secret)))  # sent again to renew it, as Django does
    etag = entry.etag(secret or "")
    headers.append(("ETag", etag))
    if entry.last_modified:
        headers.append(("Last-Modified", entry.last_modified))
    if not_modified(entry, etag, if_none_match, if_modified_since):
        keep = {"etag", "last-modified", "cache-control", "vary", "set-cookie", "content-location", "expires"}
        return Hit(304, [(k, v) for k, v in headers if k.lower() in keep], b"")
    body = entry.body(secret or "")
    headers.append(("Content-Length", str(len(body))))
    return Hit(200, headers, b"" if method == "HEAD" else body)


_recent: dict[str, Entry] = {}
RECENT_MAX = 64


def lookup(scheme: str, host: str, path: str) -> Entry | None:
    """The stored page, if the current version has one. Only the version is read from the shared cache on
    every request; a page already seen under that version is kept in this process (its key names the
    version, so a new version can never be answered with an old page)."""
    version = cache.get(VERSION_KEY)
    if version is None:
        return None
    key = page_key(version, scheme, host, path)
    entry = _recent.get(key)
    if entry is None:
        entry = cache.get(key)
        if entry is not None:
            if len(_recent) >= RECENT_MAX:
                _recent.clear()
            _recent[key] = entry
    return entry


def parse_cookies(header: str) -> dict[str, str]:
    cookie = SimpleCookie()
    try:
        cookie.load(header)
    except CookieError:
        return {}
    return {key: morsel.value for key, morsel in cookie.items()}


# --- Inside Django: views render through `render`, the middleware stores and replays -----------------


def render(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    """Render a page; when the middleware found it cacheable, render it once with a placeholder token so
    that the bytes around the token can be stored. This reader still gets a normal, working token."""
    version = getattr(request, "page_cache_version", None)
    if version is None or status != 200:
        response = django_render(request, template, context, status=status)
    else:
        html = render_to_string(template, {**context, "csrf_token": SENTINEL}, request)
        head, placeholder, tail = html.partition(SENTINEL)
        if SENTINEL in tail:
            raise ValueError(f"{template} holds more than one CSRF token: it cannot be cached")
        response = HttpResponse(head + get_token(request) + tail if placeholder else head)
        response.page_cache = (version, head.encode(), tail.encode() if placeholder else None)
    # Browsers may keep a page but must ask again (a 304 is cheap); shared caches must not (the CSRF token).
    patch_cache_control(response, private=True, no_cache=True)
    return response


class PageCacheMiddleware:
    """Outermost middleware: answers anonymous GETs from the cache, stores pages the views marked."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        cacheable = is_cacheable_request(request.method, request.META.get("QUERY_STRING", ""), request.COOKIES)
        if cacheable:
            entry = lookup(request.scheme, request.get_host(), request.path)
            if entry is not None:
                return self.replay(request, entry)
            # Read before the view queries the database: a change committed meanwhile moves the version on,
            # so a page rendered from older data is stored under a version nobody asks for any more.
            request.page_cache_version = current_version()
        response = self.get_response(request)
        parts = getattr(response, "page_cache", None)
        if cacheable and parts and response.status_code == 200:
            entry = self.store(request, response, parts)
            return self.replay(request, entry)
        return response

    @staticmethod
    def store(request: HttpRequest, response: HttpResponse, parts: tuple) -> Entry:
        version, head, tail = parts
        kept = tuple((k, v) for k, v in response.items() if k.lower() not in UNSTORED_HEADERS)
        entry = Entry.build(head, tail, kept, response.get("Last-Modified"))
        key = page_key(version, request.scheme, request.get_host(), request.path)
        cache.set(key, entry, timeout=settings.ARCHIVE_PAGE_CACHE_SECONDS)
        return entry

    @staticmethod
    def replay(request: HttpRequest, entry: Entry) -> HttpResponse:
        hit = answer(
            entry,
            request.method,
            request.COOKIES.get(settings.CSRF_COOKIE_NAME),
            request.META.get("HTTP_IF_NONE_MATCH", ""),
            request.META.get("HTTP_IF_MODIFIED_SINCE", ""),
        )
        response = HttpResponse(hit.body, status=hit.status)
        for key, value in hit.headers:
            if key.lower() == "set-cookie":
                response.cookies.load(value)
            elif key.lower() != "content-length":
                response[key] = value
        return response


# --- Before Django: the production server's fast path ---------------------------------------------------


class FastPath:
    """WSGI wrapper that answers cache hits without entering Django's request cycle at all."""

    def __init__(self, app: Callable):
        self.app = app
        self.proxy_header = settings.SECURE_PROXY_SSL_HEADER

    def scheme(self, environ: dict) -> str:
        if self.proxy_header and environ.get(self.proxy_header[0]) == self.proxy_header[1]:
            return "https"
        return environ.get("wsgi.url_scheme", "http")

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "")
        cookies = parse_cookies(environ.get("HTTP_COOKIE", "")) if environ.get("HTTP_COOKIE") else {}
        if is_cacheable_request(method, environ.get("QUERY_STRING", ""), cookies):
            host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
            path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
            entry = lookup(self.scheme(environ), host, path)
            if entry is not None:
                hit = answer(
                    entry,
                    method,
                    cookies.get(settings.CSRF_COOKIE_NAME),
                    environ.get("HTTP_IF_NONE_MATCH", ""),
                    environ.get("HTTP_IF_MODIFIED_SINCE", ""),
                )
                start_response(f"{hit.status} {'OK' if hit.status == 200 else 'Not Modified'}", hit.headers)
                return [hit.body]
        return self.app(environ, start_response)

