"""`manage.py send_trackback` against real servers: pytest-django's live server (call_command and a real
subprocess), a separate gunicorn process on its own database, a closed port, and sockets that answer badly.

The live server runs in this process on the test database, so these tests use a transactional database
(requesting `live_server` makes pytest-django give them one): what a request commits is what the next one
reads, and the page cache moves on at each commit as in production.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import urllib.request
from contextlib import closing, contextmanager
from io import StringIO
from pathlib import Path
from urllib.parse import urljoin

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError

from archive import trackback
from archive.models import Comment
from tests.server import Server
from tests.trackback_helpers import discover, parse_html, ping_items

BASE_DIR = Path(django_settings.BASE_DIR)
CLOSED = "Sorry, trackbacks are closed for this item."


def manage(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """`python manage.py …` in a process of its own, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "archive.settings", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:  # a plain reader: no cookies
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/html")
        return response.read()


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_request(conn: socket.socket) -> None:
    """Read one whole HTTP request (headers, then Content-Length bytes of body), so that closing the
    connection afterwards is a clean FIN and never a reset that would hide the answer from the client."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            return
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        piece = conn.recv(65536)
        if not piece:
            return
        body += piece


@contextmanager
def raw_server(reply: bytes | None):
    """A loopback socket that reads a request and answers `reply` (raw bytes, not necessarily HTTP), or,
    with None, accepts nothing at all: the connection waits in the backlog until the client gives up."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    read_request(conn)
                    conn.sendall(reply)
                    conn.shutdown(socket.SHUT_WR)
                    while conn.recv(65536):  # until the client has read the answer and closed
                        pass
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    if reply is not None:
        thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/post/trackback/"
    finally:
        stop.set()
        if reply is not None:
            thread.join(timeout=10)
        server.close()


@pytest.fixture
def ping_url(live_server, post, settings) -> str:
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 0  # two pings from 127.0.0.1 in a row
    settings.ARCHIVE_COMMENT_MODERATION = "open"  # a first ping from a site is held under "first-time"
    settings.ARCHIVE_COMMENT_BLOCKLIST = []
    return live_server.url + post.get_trackback_url()


def test_send_trackback_pings_the_live_server_and_the_ping_shows_on_the_page(live_server, post, ping_url):
    page_url = live_server.url + post.get_absolute_url()
    assert ping_items(parse_html(fetch(page_url))) == []  # the page is cached before the pings

    out = StringIO()
    call_command(
        "send_trackback",
        ping_url,
        "--url=https://sender.example/2024/05/a-reply/",
        "--title=A reply to “the article”",
        "--excerpt=Putin&#8217;s <b>words</b>, quoted&#8230;",
        "--blog-name=Sender & Co",
        stdout=out,
    )
    assert out.getvalue().strip() == "error 0"

    done = manage(
        "send_trackback",
        ping_url,
        "--url",
        "https://second.example/p?id=2",
        "--title",
        "Café -- second",
        "--blog-name",
        "Second Blog",
        "--timeout",
        "30",
    )
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "error 0", "")

    stored = {c.author_url: c for c in Comment.objects.filter(post=post, kind=Comment.Kind.TRACKBACK)}
    assert set(stored) == {"https://sender.example/2024/05/a-reply/", "https://second.example/p?id=2"}
    first = stored["https://sender.example/2024/05/a-reply/"]
    assert (first.title, first.content, first.blog_name) == (
        "A reply to “the article”",
        "Putin’s words, quoted…",
        "Sender & Co",
    )

    tree = parse_html(fetch(page_url))
    items = {li.attrs["id"]: li for li in ping_items(tree)}
    assert set(items) == {f"comment-{c.pk}" for c in stored.values()}
    shown = items[f"comment-{first.pk}"]
    link = shown.one("a", href="https://sender.example/2024/05/a-reply/")
    assert link.text == "A reply to “the article”" and link.attrs["rel"] == "nofollow ugc"
    assert shown.one("cite").text == "Sender & Co"
    assert "Putin’s words, quoted…" in shown.text
    second = items[f"comment-{stored['https://second.example/p?id=2'].pk}"]
    assert second.one("a", href="https://second.example/p?id=2").text == "Café -- second"
    assert tree.root.one("h2", id="comments").text == f"2 Responses to “{post.title}”"


def test_send_trackback_exits_1_on_an_error_answer(live_server, post, ping_url):
    post.pings_open = False
    post.save()
    with pytest.raises(CommandError, match=f"^error 1: {CLOSED}$") as refused:
        call_command("send_trackback", ping_url, "--url=https://sender.example/p")
    assert refused.value.returncode == 1

    done = manage("send_trackback", ping_url, "--url", "https://sender.example/p")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip() == f"CommandError: error 1: {CLOSED}"
    assert Comment.objects.count() == 0


def test_send_trackback_exits_1_when_the_url_is_refused(live_server, post, ping_url):
    with pytest.raises(CommandError, match=r"^error 1: The url must be an absolute http") as refused:
        call_command("send_trackback", ping_url, "--url=javascript:alert(1)")
    assert refused.value.returncode == 1
    assert Comment.objects.count() == 0


def test_send_trackback_exits_1_on_a_transport_error_without_a_traceback():
    url = f"http://127.0.0.1:{closed_port()}/post/trackback/"
    with pytest.raises(CommandError, match=r"^no TrackBack answer: could not reach") as failed:
        call_command("send_trackback", url, "--url=https://sender.example/p", "--timeout=5")
    assert failed.value.returncode == 1

    done = manage("send_trackback", url, "--url", "https://sender.example/p", "--timeout", "5")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith(f"CommandError: no TrackBack answer: could not reach {url}")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "path",
    [
        "/",  # the index: a 405 for POST, not XML
        "/{slug}/",  # the permalink: a 405 for POST
        "/no-such-page/at/all/",  # Django's 404 page
    ],
)
def test_send_trackback_exits_1_on_an_answer_that_is_not_trackback(live_server, post, ping_url, path):
    url = live_server.url + path.format(slug=post.slug)
    with pytest.raises(CommandError, match=r"^no TrackBack answer: the answer is not") as failed:
        call_command("send_trackback", url, "--url=https://sender.example/p")
    assert failed.value.returncode == 1
    done = manage("send_trackback", url, "--url", "https://sender.example/p")
    assert done.returncode == 1
    assert done.stderr.startswith("CommandError: no TrackBack answer: the answer is not")
    assert "Traceback" not in done.stderr
    assert Comment.objects.count() == 0


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (b"garbage, not HTTP\r\n\r\n", "could not reach"),
        (b"", "could not reach"),  # the connection closed without a status line
        (b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 11\r\n\r\n<response/>", "not a TrackBack"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nConnection: close\r\n\r\n"
            b'<!DOCTYPE r [<!ENTITY a "aaaaaaaa">]><response><error>&a;</error></response>',
            "declares XML entities",
        ),
        (
            # WordPress's wp_die() XML envelope (409/429) is not a TrackBack <response>.
            b"HTTP/1.1 409 Conflict\r\nContent-Type: text/xml\r\nConnection: close\r\n\r\n"
            b"<error><code>comment_duplicate</code><message>Duplicate</message></error>",
            "not a TrackBack",
        ),
        (None, "could not reach"),  # accepts nothing: the timeout ends it
    ],
)
def test_send_trackback_survives_servers_that_answer_badly(reply, expected):
    with raw_server(reply) as url, pytest.raises(CommandError, match=expected) as failed:
        call_command("send_trackback", url, "--url=https://sender.example/p", "--timeout=0.5")
    assert failed.value.returncode == 1


def test_send_trackback_reads_an_error_answer_carried_by_an_http_error_status():
    body = trackback.response_xml("No such post here.")
    reply = b"HTTP/1.1 404 Not Found\r\nContent-Type: text/xml\r\nConnection: close\r\n\r\n" + body
    with raw_server(reply) as url, pytest.raises(CommandError, match=r"^error 1: No such post here\.$"):
        call_command("send_trackback", url, "--url=https://sender.example/p", "--timeout=5")


def test_send_trackback_refuses_a_ping_url_that_is_not_http():
    for url in ("ftp://example.com/trackback/", "file:///etc/passwd", "example.com/trackback/", "http://[::1"):
        with pytest.raises(CommandError, match="must be an http or https address"):
            call_command("send_trackback", url, "--url=https://sender.example/p")


def test_send_trackback_needs_url_and_a_positive_timeout():
    for args in (["http://127.0.0.1:9/"], ["http://127.0.0.1:9/", "--url=x", "--timeout=0"]):
        done = manage("send_trackback", *args)
        assert done.returncode == 2, done
        assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'\n\n<?xml version="1.0" encoding="utf-8"?>\n<response><error>0</error></response>', (False, "")),
        (b'\xef\xbb\xbf<?xml version="1.0"?><response><error>1</error><message>No</message></response>', (True, "No")),
        (b"<response>\n<error> 1 </error>\n</response>", (True, "")),
    ],
)
def test_parse_answer_tolerates_what_php_blogs_print(body, expected):
    assert trackback.parse_answer(body) == trackback.Answer(*expected)


@pytest.mark.parametrize(
    "body",
    [b"", b"<html><body>Hi</body></html>", b"<response><error>2</error></response>", b"<response/>", b"\xff"],
)
def test_parse_answer_refuses_what_is_not_a_trackback_response(body):
    with pytest.raises(trackback.PingError):
        trackback.parse_answer(body)


# --- A separate server: gunicorn in its own process on its own database (the harness of tests/server.py) ---


@pytest.mark.server
def test_send_trackback_subprocess_against_a_separate_gunicorn_server():
    env = {
        "ARCHIVE_COMMENT_FLOOD_SECONDS": "0",
        "ARCHIVE_COMMENT_MODERATION": "open",
        "ARCHIVE_COMMENT_BLOCKLIST": "",
    }
    with Server(workers=1, env=env) as server:
        root = server.url + "/"
        # Find the article from the index, and its ping URL as a TrackBack client does: by autodiscovery.
        article = parse_html(fetch(root)).root.find_all("a", rel="bookmark")[0]
        page_url = urljoin(root, article.attrs["href"])
        found = discover(parse_html(fetch(page_url)), page_url)

        done = manage(
            "send_trackback", found.ping, "--url", "https://sender.example/e2e", "--title", "From afar",
            "--excerpt", "A ping across processes", "--blog-name", "Far Blog",
        )  # fmt: skip
        assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "error 0", "")

        (item,) = ping_items(parse_html(fetch(page_url)))
        assert item.one("a", href="https://sender.example/e2e").text == "From afar"
        assert item.one("cite").text == "Far Blog"
        assert "A ping across processes" in item.text
        assert server.query("SELECT kind, author_url FROM archive_comment") == [
            ("trackback", "https://sender.example/e2e")
        ]

        again = manage("send_trackback", found.ping, "--url", "https://sender.example/e2e")
        assert again.returncode == 1
        assert again.stderr.strip() == "CommandError: error 1: There is already a ping from that URL for this post."
        assert len(ping_items(parse_html(fetch(page_url)))) == 1
