"""Security headers on every kind of response the archive gives, and `check --deploy` under production
settings. The headers must be there on errors and on cache hits too: a page that an attacker can make the
site answer without them (a 404 with reflected text, a cached copy) is where clickjacking and injected
scripts get in."""

from __future__ import annotations

import io
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from archive.models import Post
from archive.wsgi import application as wsgi_application

BASE_DIR = Path(settings.BASE_DIR)
FORM = "application/x-www-form-urlencoded"
REQUIRED_DIRECTIVES = {
    "default-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            assert words[0] not in directives, f"{words[0]} given twice in {header!r}"
            directives[words[0]] = words[1:]
    return directives


def assert_security_headers(headers: dict[str, str]) -> None:
    """`headers` maps lower-cased names to values, from the test client or a raw WSGI answer."""
    csp = headers.get("content-security-policy")
    assert csp, f"no Content-Security-Policy in {sorted(headers)}"
    directives = csp_directives(csp)
    for name, sources in REQUIRED_DIRECTIVES.items():
        assert directives.get(name) == sources, (name, csp)
    for sources in directives.values():
        assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources, csp
        assert "*" not in sources, csp
    assert "unsafe" not in csp.lower()
    assert headers.get("x-content-type-options") == "nosniff"
    assert headers.get("referrer-policy") == "same-origin"
    assert headers.get("x-frame-options") == "DENY"
    assert headers.get("cross-origin-opener-policy") == "same-origin"


def lowered(response) -> dict[str, str]:
    return {name.lower(): value for name, value in response.items()}


def reply_fields(post: Post, **changes: str) -> dict:
    fields = {"comment": "A reply", "author": "Ann", "email": "ann@example.com",
              "url": "", "comment_post_ID": str(post.pk), "comment_parent": "0"}  # fmt: skip
    fields.update(changes)
    return fields


# Each entry: what to request and the status it must have. Every one gets a fresh client (no cookies), as
# a stranger would.
def article(post: Post):
    return Client().get(post.get_absolute_url())


def article_cached(post: Post):
    Client().get(post.get_absolute_url())
    return Client().get(post.get_absolute_url())


def article_head(post: Post):
    Client().get(post.get_absolute_url())
    return Client().head(post.get_absolute_url())


def index(post: Post):
    return Client().get("/")


def index_cached(post: Post):
    Client().get("/")
    return Client().get("/")


def original(post: Post):
    return Client().get(post.get_original_url())


def original_cached(post: Post):
    Client().get(post.get_original_url())
    return Client().get(post.get_original_url())


def form_error(post: Post):
    return Client(enforce_csrf_checks=True).post("/comments/post/", reply_fields(post, comment=""))


def cross_site_refused(post: Post):
    return Client().post("/comments/post/", reply_fields(post), HTTP_SEC_FETCH_SITE="cross-site")


def admin_csrf_refused(post: Post):
    return Client(enforce_csrf_checks=True).post("/admin/login/", {"username": "x", "password": "y"})


def not_found(post: Post):
    return Client().get("/no-such-post/")


def not_found_deep(post: Post):
    return Client().get("/no/such/page/<script>alert(1)</script>")


def method_not_allowed(post: Post):
    return Client().post(post.get_absolute_url(), {"a": "b"})


def method_not_allowed_trackback(post: Post):
    return Client().put(post.get_trackback_url(), b"url=http://example.com/", content_type=FORM)


def trackback_xml(post: Post):
    return Client().post(post.get_trackback_url(), b"url=https://example.com/a&title=A", content_type=FORM)


def trackback_error_xml(post: Post):
    return Client().post(post.get_trackback_url(), b"title=no+url", content_type=FORM)


def trackback_unknown_post(post: Post):
    return Client().post("/no-such-post/trackback/", b"url=https://example.com/a", content_type=FORM)


def trackback_get_redirect(post: Post):
    return Client().get(post.get_trackback_url())


def too_large(post: Post):
    return Client().post("/comments/post/", b"comment=" + b"a" * settings.ARCHIVE_MAX_FORM_BYTES, content_type=FORM)


def trackback_too_large(post: Post):
    body = b"url=https://example.com/&excerpt=" + b"a" * settings.ARCHIVE_MAX_TRACKBACK_BYTES
    return Client().post(post.get_trackback_url(), body, content_type=FORM)


def bad_utf8(post: Post):
    return Client().post("/comments/post/", b"comment=%FF%FE&comment_post_ID=1", content_type=FORM)


def admin_login(post: Post):
    return Client().get("/admin/login/")


def admin_login_refused(post: Post):
    reader = Client()
    for _ in range(settings.ARCHIVE_LOGIN_MAX_FAILURES):
        reader.post("/admin/login/", {"username": "admin", "password": "wrong"})
    return reader.post("/admin/login/", {"username": "admin", "password": "wrong"})


def admin_redirect(post: Post):
    return Client().get("/admin/")


KINDS: dict[str, tuple[Callable, int]] = {
    "article": (article, 200),
    "article, second (cached) GET": (article_cached, 200),
    "article, HEAD": (article_head, 200),
    "index": (index, 200),
    "index, second (cached) GET": (index_cached, 200),
    "raw original": (original, 200),
    "raw original, second GET": (original_cached, 200),
    "form error": (form_error, 400),
    "cross-site reply": (cross_site_refused, 403),
    "admin CSRF failure": (admin_csrf_refused, 403),
    "404": (not_found, 404),
    "404 with markup in the path": (not_found_deep, 404),
    "405": (method_not_allowed, 405),
    "405 on the trackback URL": (method_not_allowed_trackback, 405),
    "trackback XML": (trackback_xml, 200),
    "trackback error XML": (trackback_error_xml, 200),
    "trackback XML 404": (trackback_unknown_post, 404),
    "trackback GET redirect": (trackback_get_redirect, 302),
    "413": (too_large, 413),
    "413 on the trackback URL": (trackback_too_large, 413),
    "400 invalid UTF-8": (bad_utf8, 400),
    "admin login": (admin_login, 200),
    "admin login, too many failures": (admin_login_refused, 429),
    "admin redirect to login": (admin_redirect, 302),
}


@pytest.mark.parametrize("kind", KINDS)
def test_security_headers_on_every_kind_of_response(post, kind):
    fetch, status = KINDS[kind]
    response = fetch(post)
    assert response.status_code == status, (kind, response.status_code, response.content[:300])
    assert_security_headers(lowered(response))


def wsgi_get(path: str, method: str = "GET") -> tuple[str, dict[str, str], bytes]:
    """A raw WSGI request to the production application object, cache fast path included."""
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "testserver",
        "SERVER_PORT": "80", "HTTP_HOST": "testserver", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(), "wsgi.version": (1, 0), "wsgi.multithread": False,
        "wsgi.multiprocess": True, "wsgi.run_once": False, "SERVER_PROTOCOL": "HTTP/1.1",
    }  # fmt: skip
    answer: dict = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info=None):
        answer["status"], answer["headers"] = status, headers

    chunks = wsgi_application(environ, start_response)
    body = b"".join(chunks)
    getattr(chunks, "close", lambda: None)()
    return answer["status"], {name.lower(): value for name, value in answer["headers"]}, body


# Transactional: a raw WSGI request ends with Django's request_finished signal, which closes the database
# connection (the test client disconnects it; a real server does not), so no test transaction may be open.
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path_of", [Post.get_absolute_url, lambda post: "/"], ids=["article", "index"])
def test_security_headers_on_the_production_fast_path(post, path_of):
    """The second request is answered by the WSGI wrapper in front of Django, from the stored headers."""
    path = path_of(post)
    first_status, first, _ = wsgi_get(path)
    second_status, second, body = wsgi_get(path)
    assert first_status.startswith("200") and second_status.startswith("200")
    assert body
    assert_security_headers(first)
    assert_security_headers(second)
    assert second["content-security-policy"] == first["content-security-policy"]


def test_the_policy_allows_what_the_pages_use(post):
    """No inline script or style, and every script and stylesheet from this site, so the strict policy
    breaks nothing."""
    html = Client().get(post.get_absolute_url()).content.decode()
    # The article's JSON-LD is a data block, not script: script-src does not apply to it.
    assert not re.search(r'<script(?![^>]*\b(?:src=|type="application/ld\+json"))', html), "inline script"
    assert "<style" not in html and not re.search(r"<[^>]*\sstyle=", html), "inline style"
    assert not re.search(r"<[^>]*\son[a-z]+=", html), "inline event handler"
    for url in re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html):
        ours = url.startswith("http://testserver/")  # discovery <link>s are absolute, on this site
        assert ours or not re.match(r"(?:[a-z]+:)?//", url), f"{url} is not from this site"


# --- check --deploy --------------------------------------------------------------------------------------


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """manage.py in a fresh process: the settings read the environment once, at import."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=environment, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


def production_key() -> str:
    return secrets.token_urlsafe(60)


def test_check_deploy_is_clean_with_https():
    result = manage("check", "--deploy", "--fail-level", "DEBUG", DJANGO_HTTPS="1", DJANGO_SECRET_KEY=production_key(),
                    DJANGO_ALLOWED_HOSTS="archive.example.org")  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout + result.stderr


def test_check_deploy_without_https_warns_only_about_https():
    """Served over plain HTTP (behind nothing, or a proxy that does TLS but is not declared), the only
    warnings are the four that only HTTPS can answer; anything else showing up here is a regression."""
    result = manage("check", "--deploy", DJANGO_SECRET_KEY=production_key())
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    found = set(re.findall(r"\((\w+\.\w+)\)", output))
    assert found == {"security.W004", "security.W008", "security.W012", "security.W016"}, output


def test_check_deploy_catches_a_weak_key():
    """The check can fail: a short key is reported even with HTTPS on."""
    result = manage("check", "--deploy", "--fail-level", "WARNING", DJANGO_HTTPS="1", DJANGO_SECRET_KEY="short")
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


HTTPS_PROBE = """
import django
django.setup()
from django.test import Client
plain = Client().get("/no/such/page/")
proxied = Client().get("/no/such/page/", headers={"X-Forwarded-Proto": "https"})
print(plain.status_code, plain.get("Location"))
print(proxied.status_code, proxied.get("Strict-Transport-Security"))
"""


def test_https_switch_redirects_and_sends_hsts(tmp_path):
    """DJANGO_HTTPS=1 trusts the proxy's X-Forwarded-Proto: plain HTTP is redirected, HTTPS gets HSTS.
    (A path no view matches: the answer needs no database.)"""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    environment.update(DJANGO_HTTPS="1", DJANGO_SECRET_KEY=production_key(), DJANGO_ALLOWED_HOSTS="testserver",
                       DJANGO_SETTINGS_MODULE="archive.settings", DATABASE_URL=f"sqlite:///{tmp_path / 'unused.db'}",
                       CACHE_URL="locmem://")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", HTTPS_PROBE], cwd=BASE_DIR, env=environment,
                            capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    plain, proxied = result.stdout.split("\n")[:2]
    assert plain == "301 https://testserver/no/such/page/"
    assert proxied == "404 max-age=31536000; includeSubDomains; preload"


def test_security_headers_on_a_static_file(db, settings):
    """Static files are answered by WhiteNoise, below the header middleware, so they carry the headers too."""
    settings.WHITENOISE_USE_FINDERS = True  # serve from static/ without collectstatic; read when the client starts
    response = Client().get("/static/archive/kubrick.css")
    assert response.status_code == 200
    assert_security_headers(lowered(response))
