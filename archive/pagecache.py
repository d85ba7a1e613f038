"""One page for every reader: public pages are rendered once per cache version and answered to everyone,
by this process before Django runs, by any other worker from Django's cache, and by nginx from files.

Why one copy is safe:
- Public pages hold nothing personal: the reply form carries no CSRF token (`crossorigin` protects it
  instead) and nothing sets a cookie, so every anonymous reader, crawler and shared cache gets the same
  bytes, one strong ETag and `Cache-Control: public, max-age=0, must-revalidate` (every cache asks again,
  and a 304 is cheap, so a new reply shows at once).
- Readers with a personal cookie (every one starts with `readers.PERSONAL_PREFIX`: a held reply, remembered
  details) get a page made for them, marked private, and never stored.
- Pages are stored under a version that moves on whenever what the public sees changes (a response
  published, moderated or removed; a post imported again, opened or closed). A page's key names its
  version, so no worker and no server can answer with a page from before the change. The version is random,
  never a counter, so a store that lost it cannot fall back to an old page.
- A stored page keeps the headers the whole middleware stack produced (CSP, X-Frame-Options, …), so a hit
  answers with exactly the headers of a miss.

Where the version lives, read on every hit:
- One machine (the default: a file or local-memory cache): the name a symlink `current` in
  ARCHIVE_PAGE_DIR points at. Reading it is one `readlink`, about a microsecond, shared by every worker
  and every management command on the machine; it is also what nginx follows to the page files (below).
- Several machines (Redis, Memcached or the database as the cache): a key in that shared cache, the one
  place every server sees. A hit then costs one round trip to the cache.

When Redis goes away (archive/rediscache.py), the cache holds nothing: the version reads as missing, each
request makes up a fresh one that is stored nowhere, and every page is rendered, answered and stored
nowhere either (this process's own copy is kept under that made-up version, which nobody asks for again:
one small dictionary cleared per request, no more). An invalidation made meanwhile is lost, and a Redis that
kept its data (stopped, or cut off) would answer with the version from before, whose pages are stale. So
every process that saw Redis fail moves the version on as soon as Redis answers again, before it reads any
page from it (`after_outage`).

nginx in front (deploy/nginx/): on one machine every stored page is also written, atomically, to
ARCHIVE_PAGE_DIR/<version>/<scheme>/<host><path>, with the page's Last-Modified as its mtime; nginx
answers those files itself (WP Super Cache's expert mode) and passes everything else to the app.
Invalidation swaps the symlink, so nginx stops serving old files at the same instant the app does.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.utils.cache import patch_cache_control
from django.utils.http import http_date, parse_http_date_safe

from . import readers, rediscache

VERSION_KEY = "archive:pages:version"
SHARED_BACKENDS = ("redis", "memcache", "DatabaseCache")
# Per response, or never on a stored page; ETag, Last-Modified and Content-Length are made at store time.
UNSTORED_HEADERS = frozenset({"set-cookie", "content-length", "date", "etag", "last-modified"})
NOT_MODIFIED_HEADERS = frozenset({"etag", "last-modified", "cache-control", "vary", "content-location", "expires"})
# Only such paths become files for nginx: no dot segments, no doubled slashes, nothing a shell would quote.
FILE_PATH = re.compile(r"^(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*/?$")
FILE_HOST = re.compile(r"^[a-z0-9][a-z0-9.-]*(:[0-9]{1,5})?$")
# The headers deploy/nginx/archive-server.conf sends with every page file, and the further sets it sends
# with files whose name carries an infix (an article whose pings are open: its discovery headers). A page
# carrying any other header (the sitemap's X-Robots-Tag, say) is not written as a file: nginx would send it
# without that header.
FILE_HEADERS = frozenset({
    "content-type", "cache-control", "content-security-policy", "x-frame-options", "x-content-type-options",
    "referrer-policy", "cross-origin-opener-policy", "strict-transport-security", "etag", "last-modified",
    "content-length",
})  # fmt: skip
FILE_INFIXES = {frozenset(): "", frozenset({"x-pingback", "link"}): ".pings"}
FILE_SUFFIX = {  # the page file's name below a path ending in "/", by content type; nginx maps them back
    "text/html": "index.html",
    "application/rss+xml": "index.rss",
    "application/atom+xml": "index.atom",
    "application/xml": "index.xml",
}


# --- The version ------------------------------------------------------------------------------------------


class LocalVersion:
    """The version on one machine: the target of the symlink `current` in the page directory."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.link = directory / "current"

    def read(self) -> str | None:
        try:
            return os.readlink(self.link)
        except OSError:
            return None

    def move_on(self) -> str:
        version = secrets.token_hex(8)
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / version).mkdir()
        temporary = self.directory / f".current-{version}"
        os.symlink(version, temporary)
        os.replace(temporary, self.link)  # atomic: every reader sees the old version or the new one
        self._collect(keep=version)
        return version

    def _collect(self, keep: str) -> None:
        """Remove the page files of older versions (a file nginx is sending stays readable until closed)."""
        for entry in self.directory.iterdir():
            if entry.name not in (keep, "current") and entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)

    def page_file(self, version: str, scheme: str, host: str, path: str, page: Page) -> Path | None:
        """Where nginx looks for this page, or None when it should not (odd hosts or paths, or headers nginx
        would not send, go to the app)."""
        extra = frozenset(k.lower() for k, _ in page.headers) - FILE_HEADERS
        infix = FILE_INFIXES.get(extra)
        name = FILE_SUFFIX.get(page.content_type) if path.endswith("/") else ""
        if infix is None or name is None or scheme not in ("http", "https"):
            return None
        if not FILE_PATH.match(path) or not FILE_HOST.match(host) or (infix and not name):
            return None
        if infix:  # index.html → index.pings.html
            stem, _, suffix = name.rpartition(".")
            name = f"{stem}{infix}.{suffix}"
        return self.directory / version / scheme / host / (path.lstrip("/") + name)


class SharedVersion:
    """The version for several machines: a key in the cache they all share."""

    def read(self) -> str | None:
        return cache.get(VERSION_KEY)

    def move_on(self) -> str:
        version = secrets.token_hex(8)
        cache.set(VERSION_KEY, version, timeout=None)
        return version

    def page_file(self, version: str, scheme: str, host: str, path: str, page: Page) -> None:
        return None  # another machine's nginx could not be told of an invalidation: no files


def is_shared_cache() -> bool:
    backend = settings.CACHES["default"]["BACKEND"]
    return any(name in backend for name in SHARED_BACKENDS)


versions: LocalVersion | SharedVersion = (
    SharedVersion() if is_shared_cache() else LocalVersion(Path(settings.ARCHIVE_PAGE_DIR))
)


@receiver(rediscache.recovered)
def after_outage(**kwargs: object) -> None:
    """Redis answers again after this process saw it fail: an invalidation this process made meanwhile was
    not written, so nothing Redis still holds under the old version may be served (module docstring)."""
    if isinstance(versions, SharedVersion):
        versions.move_on()


def current_version() -> str:
    return versions.read() or versions.move_on()


def invalidate() -> None:
    versions.move_on()


# --- A stored page ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """Everything a hit sends, built once when the page is stored."""

    body: bytes
    headers: tuple[tuple[str, str], ...]  # of a 200, Content-Length included
    not_modified: tuple[tuple[str, str], ...]  # of a 304
    etag: str
    last_modified: int | None

    @classmethod
    def build(cls, body: bytes, kept: Iterable[tuple[str, str]], last_modified: int | None) -> Page:
        etag = f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'
        headers = [*kept, ("ETag", etag)]
        if last_modified is not None:
            headers.append(("Last-Modified", http_date(last_modified)))
        not_modified = tuple((k, v) for k, v in headers if k.lower() in NOT_MODIFIED_HEADERS)
        return cls(body, (*headers, ("Content-Length", str(len(body)))), not_modified, etag, last_modified)

    @property
    def content_type(self) -> str:
        value = next((v for k, v in self.headers if k.lower() == "content-type"), "")
        return value.split(";")[0].strip()

    def is_fresh(self, if_none_match: str, if_modified_since: str) -> bool:
        """RFC 9110 §13.1: If-None-Match (weak comparison: nginx weakens ETags it compresses) wins over
        If-Modified-Since."""
        if if_none_match:
            tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
            return self.etag in tags or "*" in tags
        if if_modified_since and self.last_modified is not None:
            since = parse_http_date_safe(if_modified_since)
            return since is not None and self.last_modified <= since
        return False

    def answer(self, method: str, if_none_match: str, if_modified_since: str) -> tuple[int, tuple, bytes]:
        if self.is_fresh(if_none_match, if_modified_since):
            return 304, self.not_modified, b""
        return 200, self.headers, b"" if method == "HEAD" else self.body


def shared_key(version: str, scheme: str, host: str, path: str) -> str:
    """Hashed, so any host and path make a valid key for every backend (memcached refuses long keys)."""
    digest = hashlib.sha256(f"{scheme}://{host}{path}".encode("utf-8", "surrogateescape")).hexdigest()
    return f"archive:page:{version}:{digest}"


# The pages this process has seen under the current version: a hit reads only this and the version.
_pages: dict[tuple[str, str, str, str], Page] = {}
_pages_version = ""
PAGES_MAX = 512


def remember(key: tuple[str, str, str, str], page: Page) -> None:
    global _pages_version
    if key[0] != _pages_version or len(_pages) >= PAGES_MAX:
        _pages.clear()  # an older version's pages (nobody asks for them any more), or too many
        _pages_version = key[0]
    _pages[key] = page


# --- Inside Django ----------------------------------------------------------------------------------------


def is_personal(request: HttpRequest) -> bool:
    return any(name.startswith(readers.PERSONAL_PREFIX) for name in request.COOKIES)


def is_shareable(request: HttpRequest) -> bool:
    """A GET or HEAD of a bare URL by a reader without personal cookies: answered from the store."""
    return (
        settings.ARCHIVE_PAGE_CACHE
        and request.method in ("GET", "HEAD")
        and not request.META.get("QUERY_STRING")
        and not is_personal(request)
    )


def public_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For views whose answer is the same for every reader without personal cookies: marks it public (or
    private, for personal readers) and has the middleware store it. The version is read before the view
    reads the database: a change committed meanwhile moves it on, so a page made from older data is
    stored under a version nobody asks for any more."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        version = current_version() if is_shareable(request) else None
        response = view(request, *args, **kwargs)
        if is_personal(request):
            patch_cache_control(response, private=True, no_cache=True)
        else:
            shared = settings.ARCHIVE_SHARED_CACHE_SECONDS
            patch_cache_control(response, public=True, max_age=0, must_revalidate=True,
                                **({"s_maxage": shared} if shared else {}))  # fmt: skip
            if version is not None and response.status_code == 200:
                response.page_cache_version = version
        return response

    wrapper.public_page = True
    if getattr(view, "csrf_exempt", False):  # a Feed instance's is a class attribute, which wraps() misses
        wrapper.csrf_exempt = True
    return wrapper


def is_page_path(path: str) -> bool:
    """Only URLs of public pages are looked up in the shared cache (not static files, not the admin)."""
    try:
        return getattr(resolve(path).func, "public_page", False)
    except Resolver404:
        return False


class PageCacheMiddleware:
    """Outermost middleware: answers from the store, and stores the pages `public_page` marked, with the
    headers every other middleware added."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_shareable(request):
            page = self.lookup(request)
            if page is not None:
                return self.replay(request, page)
        response = self.get_response(request)
        version = getattr(response, "page_cache_version", None)
        if version is not None and not response.cookies and not response.streaming:
            return self.replay(request, self.store(request, response, version))
        return response

    @staticmethod
    def key(request: HttpRequest, version: str) -> tuple[str, str, str, str]:
        return version, request.scheme, request.get_host().lower(), request.path_info

    def lookup(self, request: HttpRequest) -> Page | None:
        version = versions.read()
        if version is None:
            return None
        key = self.key(request, version)
        page = _pages.get(key)
        if page is None and is_page_path(request.path_info):
            page = cache.get(shared_key(*key))
            if page is not None:
                remember(key, page)
        return page

    def store(self, request: HttpRequest, response: HttpResponse, version: str) -> Page:
        kept = [(k, v) for k, v in response.items() if k.lower() not in UNSTORED_HEADERS]
        last_modified = parse_http_date_safe(response.get("Last-Modified", ""))
        page = Page.build(response.content, kept, last_modified)
        key = self.key(request, version)
        cache.set(shared_key(*key), page, timeout=settings.ARCHIVE_PAGE_CACHE_SECONDS)
        remember(key, page)
        write_page_file(key, page)
        return page

    @staticmethod
    def replay(request: HttpRequest, page: Page) -> HttpResponse:
        status, headers, body = page.answer(
            request.method,
            request.META.get("HTTP_IF_NONE_MATCH", ""),
            request.META.get("HTTP_IF_MODIFIED_SINCE", ""),
        )
        response = HttpResponse(body, status=status)
        for key, value in headers:
            response[key] = value  # Content-Length too: a HEAD's is the length of the GET's body
        return response


def write_page_file(key: tuple[str, str, str, str], page: Page) -> None:
    """The page as a file for nginx, when it is still current: written beside, then renamed into place."""
    version, scheme, host, path = key
    target = versions.page_file(version, scheme, host, path, page)
    if target is None or versions.read() != version:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}")
    temporary.write_bytes(page.body)
    if page.last_modified is not None:
        os.utime(temporary, (page.last_modified, page.last_modified))  # nginx's Last-Modified
    os.replace(temporary, target)


# --- Before Django: the production server's fast path -----------------------------------------------------


class FastPath:
    """WSGI wrapper that answers this process's stored pages without entering Django at all: a method and
    cookie check, the version, a dictionary look-up, and prebuilt headers and bytes."""

    REASONS = {200: "200 OK", 304: "304 Not Modified"}

    def __init__(self, app: Callable):
        self.app = app
        self.proxy_header = settings.SECURE_PROXY_SSL_HEADER
        self.enabled = settings.ARCHIVE_PAGE_CACHE

    def scheme(self, environ: dict) -> str:
        if self.proxy_header and environ.get(self.proxy_header[0]) == self.proxy_header[1]:
            return "https"
        return environ.get("wsgi.url_scheme", "http")

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if (
            self.enabled
            and (method == "GET" or method == "HEAD")
            and not environ.get("QUERY_STRING")
            # Any mention of the prefix sends the request to Django, whose cookie parser then decides.
            and readers.PERSONAL_PREFIX not in environ.get("HTTP_COOKIE", "")
        ):
            version = versions.read()
            host = environ.get("HTTP_HOST", "").lower()
            path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
            page = _pages.get((version, self.scheme(environ), host, path))
            if page is not None:
                status, headers, body = page.answer(
                    method, environ.get("HTTP_IF_NONE_MATCH", ""), environ.get("HTTP_IF_MODIFIED_SINCE", "")
                )
                start_response(self.REASONS[status], list(headers))
                return [body]
        return self.app(environ, start_response)
