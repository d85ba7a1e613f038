"""nginx in front, serving stored pages without Python: Debian's nginx runs the shipped deploy/nginx/
includes in front of the production server, and what a reader gets through it is what the app promises.

The proof that a hit never reaches the app: the app's whole process group is stopped (SIGSTOP) while
nginx answers; a request that needed the app would hang until the timeout instead.
"""

import http.client
import os
import signal
import urllib.parse
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests import nginx
from tests.nginx import Nginx, fetch
from tests.server import Client, Server, reply_fields

pytestmark = pytest.mark.server

if not nginx.available():
    if os.environ.get("CI"):
        raise RuntimeError("nginx is missing: apt-get install nginx-light (make test installs it as root)")
    pytest.skip("nginx is missing: apt-get install nginx-light", allow_module_level=True)

ENV = {"ARCHIVE_COMMENT_MODERATION": "open", "ARCHIVE_COMMENT_FLOOD_SECONDS": "0",
       "ARCHIVE_TRUSTED_PROXIES": "127.0.0.1/32"}  # fmt: skip
# Headers a reader's browser acts on; nginx adds Server, Date and its own ETag, Connection, Accept-Ranges.
COMPARED = ("content-type", "cache-control", "content-security-policy", "x-frame-options", "x-content-type-options",
            "referrer-policy", "cross-origin-opener-policy", "last-modified", "strict-transport-security", "x-pingback",
            "link")  # fmt: skip


def compared(headers) -> dict:
    """The headers that matter, the CSP as its directives (django-csp does not keep their order)."""
    values = {name: headers.get(name) for name in COMPARED}
    policy = values.pop("content-security-policy") or ""
    values["csp"] = {part.strip() for part in policy.split(";") if part.strip()}
    return values


@pytest.fixture(scope="module")
def site():
    with Server(workers=2, env=ENV) as app, Nginx.front(app.url, Path(app.server_env()["ARCHIVE_PAGE_DIR"])) as front:
        yield app, front


@contextmanager
def app_frozen(app: Server):
    """Every process of the app server stopped: only nginx can answer meanwhile."""
    os.killpg(app.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(app.pid, signal.SIGCONT)


def article(app: Server) -> tuple[int, str]:
    post_id, slug = app.first_post()
    return post_id, f"/{slug}/"


def warm(front: Nginx, path: str) -> tuple:
    """The first request goes through to the app, which stores the page and writes its file."""
    fetch(front.url + path)
    return fetch(front.url + path)


def test_a_stored_page_is_answered_by_nginx_alone(site):
    app, front = site
    _, page = article(app)
    for path in (page, "/"):
        status, _, body = warm(front, path)
        assert status == 200
        with app_frozen(app):
            frozen_status, _, frozen_body = fetch(front.url + path, timeout=5)
        assert frozen_status == 200
        # The very bytes the app serves for that URL (the page names its host, so ask for the same one).
        assert frozen_body == body == fetch(app.url + path, {"Host": f"127.0.0.1:{front.port}"})[2]


def test_pages_from_nginx_carry_the_apps_headers(site):
    app, front = site
    _, page = article(app)
    warm(front, page)
    with app_frozen(app):
        _, from_nginx, _ = fetch(front.url + page, timeout=5)
    _, from_app, _ = fetch(app.url + page, {"Host": f"127.0.0.1:{front.port}"})
    assert compared(from_nginx) == compared(from_app)
    assert from_nginx["Cache-Control"] == "public, max-age=0, must-revalidate"
    assert from_nginx["X-Pingback"] == f"http://127.0.0.1:{front.port}/xmlrpc.php"  # discovery, from the file name
    assert from_nginx["Link"] == f'<http://127.0.0.1:{front.port}/webmention/>; rel="webmention"'
    index_headers = fetch(front.url + "/")[1]
    assert index_headers.get("X-Pingback") is None  # only articles whose pings are open advertise it
    assert "Set-Cookie" not in from_nginx


def test_head_and_conditional_requests_through_nginx(site):
    app, front = site
    _, page = article(app)
    _, headers, body = warm(front, page)
    with app_frozen(app):
        status, head_headers, head_body = fetch(front.url + page, method="HEAD", timeout=5)
        assert (status, head_body) == (200, b"")
        assert int(head_headers["Content-Length"]) == len(body)
        assert fetch(front.url + page, {"If-None-Match": headers["ETag"]}, timeout=5)[0] == 304
        assert fetch(front.url + page, {"If-Modified-Since": headers["Last-Modified"]}, timeout=5)[0] == 304


def test_a_published_reply_is_on_the_next_readers_page_at_once(site):
    app, front = site
    post_id, page = article(app)
    warm(front, page)
    answer = Client(front.url).post_reply(page, reply_fields(post_id, "Published through nginx"))
    assert answer.status == 302, answer.text[:300]
    status, _, body = fetch(front.url + page)
    assert status == 200 and b"Published through nginx" in body
    with app_frozen(app):  # and it is nginx's own copy again from the second reader on
        assert b"Published through nginx" in fetch(front.url + page, timeout=5)[2]


def test_a_held_reply_changes_nothing_and_its_author_gets_their_own_page(site):
    app, front = site
    post_id, page = article(app)
    _, _, before = warm(front, page)
    author = Client(front.url)
    links = "See https://one.example/ and https://two.example/ for more"  # two links: held
    answer = author.post_reply(page, reply_fields(post_id, links))
    assert answer.status == 302
    with app_frozen(app):
        assert fetch(front.url + page, timeout=5)[2] == before  # the same stored page for everyone else
    own = author.get(page)  # a personal cookie: nginx passes it to the app
    assert own.status == 200
    assert "Your comment is awaiting moderation." in own.text
    assert own.headers["Cache-Control"] == "private, no-cache"


def test_query_strings_and_posts_go_to_the_app(site):
    app, front = site
    _, page = article(app)
    warm(front, page)
    with app_frozen(app), pytest.raises(OSError):  # the app cannot answer, so nginx cannot either
        fetch(front.url + page + "?replytocom=1", timeout=2)


def source_request(port: int, source: str, method: str, path: str, body: str = "", headers=None):
    """A request from another loopback address (127.0.0.2, …), as a second reader's machine."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    connection.request(method, path, body=body.encode(), headers=headers or {})
    answer = connection.getresponse()
    answer.read()
    connection.close()
    return answer


def test_the_app_stores_the_readers_address_not_nginxs(site):
    app, front = site
    post_id, _ = article(app)
    body = urllib.parse.urlencode(reply_fields(post_id, "From the second machine"))
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": "6.6.6.6",
               "Host": f"127.0.0.1:{front.port}"}  # fmt: skip
    answer = source_request(front.port, "127.0.0.2", "POST", "/comments/post/", body, headers)
    assert answer.status == 302
    rows = app.query("SELECT ip_address FROM archive_comment WHERE content = %s", ["From the second machine"])
    assert [str(row[0]) for row in rows] == ["127.0.0.2"]  # not 127.0.0.1 (nginx), not the forged 6.6.6.6
