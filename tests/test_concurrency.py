"""Many writers at once, through the production server: gunicorn with several worker processes, each with
its own database connection, so the writes really race (Django's test client runs one at a time).

What must hold: every reply answered 302 and every ping answered <error>0</error> is stored exactly once and
shown on the page; nothing fails with "database is locked" or a 5xx; and the duplicate rule holds when the
two copies arrive together, which only the database's unique constraint can guarantee.
"""

from __future__ import annotations

import queue
import random
import re
import secrets
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial

import pytest

from archive import markup

from .server import SERVER_KINDS, Client, Response, Server, reply_fields, trackback_ok

THREADS = 20
REPLIES = 200
PINGS = 100
WORKERS = 3  # two cores: more workers only queue on the CPU
SERVER_ENV = {
    "ARCHIVE_COMMENT_MODERATION": "open",
    "ARCHIVE_COMMENT_FLOOD_SECONDS": "0",
    "ARCHIVE_COMMENTS_PER_PAGE": "1000",  # every thread on one page
}
COMMENT_ID = re.compile(r'<li id="comment-(\d+)"')
LOCATION_ID = re.compile(r"#comment-(\d+)$")


@pytest.fixture(scope="module", params=SERVER_KINDS)
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """Each production server the project runs: gunicorn (archive/gunicorn.conf.py), granian (`make run`)."""
    with Server(workers=WORKERS, env=SERVER_ENV, kind=request.param) as running:
        yield running


def run_all(jobs: list, work: Callable[[Client, object], object], base_url: str, threads: int) -> list:
    """Run `work(client, job)` for every job on `threads` threads at once (one visitor each), released
    together by a barrier. Returns (job, answer) pairs; an answer is a Response or the OSError raised when
    the server gave no answer at all."""
    todo: queue.Queue = queue.Queue()
    for job in jobs:
        todo.put(job)
    results: list = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def worker() -> None:
        client = Client(base_url)
        start.wait(timeout=60)
        while True:
            try:
                job = todo.get_nowait()
            except queue.Empty:
                return
            try:
                answer: object = work(client, job)
            except OSError as error:
                answer = error
            with lock:
                results.append((job, answer))

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=600)
    assert not any(thread.is_alive() for thread in pool), "client threads still running after 10 minutes"
    return results


def describe(answer: object) -> str:
    if isinstance(answer, Response):
        return f"{answer.status} {answer.text[:200]!r}"
    return repr(answer)


@pytest.mark.server
def test_concurrent_replies_and_pings_are_each_stored_once_and_shown(server: Server) -> None:
    post_id, slug = server.first_post()
    page = f"/{slug}/"
    tag = secrets.token_hex(4)
    reply_text = {i: f"Concurrent reply {tag} number {i}" for i in range(REPLIES)}
    ping_url = {i: f"http://blog{i}.example.com/{tag}/post-{i}/" for i in range(PINGS)}
    jobs = [("reply", i) for i in range(REPLIES)] + [("ping", i) for i in range(PINGS)]
    random.Random(6).shuffle(jobs)

    def work(client: Client, job: object) -> Response:
        kind, i = job
        if kind == "reply":
            fields = reply_fields(post_id, reply_text[i], author=f"Reader {i}", email=f"reader{i}@example.com")
            return client.post_reply(page, fields)
        ping = {
            "url": ping_url[i],
            "title": f"Ping {tag} number {i}",
            "excerpt": f"Excerpt {i}",
            "blog_name": f"Blog {i}",
        }
        return client.post_trackback(slug, ping)

    results = run_all(jobs, work, server.url, THREADS)
    assert len(results) == REPLIES + PINGS

    # Every request was answered, and answered with success: they are all distinct and allowed.
    failures = [
        (job, describe(answer))
        for job, answer in results
        if not isinstance(answer, Response)
        or (job[0] == "reply" and answer.status != 302)
        or (job[0] == "ping" and not trackback_ok(answer))
    ]
    assert not failures, f"{len(failures)} of {len(results)} requests failed, e.g. {failures[:5]}"
    server_errors = [job for job, answer in results if isinstance(answer, Response) and answer.status >= 500]
    assert not server_errors

    # Stored exactly once each, under the id the redirect named.
    rows = server.query(
        "SELECT id, kind, content, author_url, status FROM archive_comment WHERE content LIKE %s OR author_url LIKE %s",
        [f"%{tag}%", f"%/{tag}/%"],
    )
    # Each reply's HTML is its own text's: rendering shares no state between requests served at once.
    for pk, content, content_html in server.query(
        "SELECT id, content, content_html FROM archive_comment WHERE kind = 'comment' AND content LIKE %s", [f"%{tag}%"]
    ):
        assert content_html == f"<p>{content}</p>", f"comment {pk}: {content!r} shown as {content_html!r}"
    replies = Counter(content for _, kind, content, _, _ in rows if kind == "comment")
    pings = Counter(url for _, kind, _, url, _ in rows if kind == "trackback")
    assert replies == Counter(reply_text.values()), "replies stored not exactly once each"
    assert pings == Counter(ping_url.values()), "pings stored not exactly once each"
    assert {status for *_, status in rows} == {"approved"}
    id_of = {content: pk for pk, kind, content, _, _ in rows if kind == "comment"}
    for (kind, i), answer in results:
        if kind == "reply":
            match = LOCATION_ID.search(answer.location)
            assert match, answer.location
            assert int(match.group(1)) == id_of[reply_text[i]], f"reply {i} redirected to another comment"

    # Shown on the page, to a new visitor (the shared page cache must have moved on), on one page.
    html = Client(server.url).get(page).text
    assert "comment-pages" not in html, "ARCHIVE_COMMENTS_PER_PAGE did not put every comment on one page"
    shown = {int(pk) for pk in COMMENT_ID.findall(html)}
    missing = {pk for pk, *_ in rows} - shown
    assert not missing, f"{len(missing)} stored responses are not on the page"
    for text in reply_text.values():
        assert text in html
    total = server.query("SELECT count(*) FROM archive_comment WHERE status = 'approved'")[0][0]
    assert f"{total} Responses to" in html

    log = server.stderr()
    assert "database is locked" not in log
    assert "Traceback" not in log, log[-3000:]
    print(f"concurrency[{server.kind}]: {len(results)} sent, {len(rows)} stored once each and shown, 0 lost")


def at_once(*actions: Callable[[], Response]) -> list[Response]:
    """Run the actions on one thread each, released together by a barrier; their answers, in order."""
    barrier = threading.Barrier(len(actions))
    answers: list = [None] * len(actions)

    def run(n: int) -> None:
        barrier.wait(timeout=30)
        answers[n] = actions[n]()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert None not in answers, "a request did not finish"
    return answers


@pytest.fixture(scope="module")
def flood_server() -> Iterator[Server]:
    # The test stands in for a proxy (127.0.0.1 trusted), so that each round is a sender of its own.
    env = {**SERVER_ENV, "ARCHIVE_COMMENT_FLOOD_SECONDS": "60", "ARCHIVE_TRUSTED_PROXIES": "127.0.0.1/32"}
    with Server(workers=WORKERS, env=env) as running:
        yield running


@pytest.mark.server
def test_one_sender_at_the_same_moment_is_let_in_once(flood_server: Server) -> None:
    """Five times, two different replies from one sender (one address, one email) released by one barrier,
    on several worker processes: inside the flood window only one may be stored, the other gets 429 with its
    text kept. (On PostgreSQL both checks would pass before either row is stored, but for the lock.)"""
    post_id, _ = flood_server.first_post()
    origin = {"Origin": flood_server.url, "Sec-Fetch-Site": "same-origin"}
    for round_ in range(5):
        sender = {**origin, "X-Forwarded-For": f"198.51.100.{round_ + 1}"}
        email = f"hasty{round_}-{secrets.token_hex(3)}@example.org"
        texts = [f"First of two {email}", f"Second of two {email}"]
        answers = at_once(*(partial(Client(flood_server.url).post, "/comments/post/",
                                    reply_fields(post_id, text, email=email), sender) for text in texts))  # fmt: skip
        assert sorted(answer.status for answer in answers) == [302, 429], [describe(a)[:80] for a in answers]
        refused = next(answer for answer in answers if answer.status == 429)
        assert any(text in refused.text for text in texts)  # the refused reader's text is in the form again
        stored = flood_server.query("SELECT count(*) FROM archive_comment WHERE author_email = %s", [email])
        assert stored == [(1,)], f"round {round_}: {stored[0][0]} stored inside the flood window"


@pytest.mark.server
@pytest.mark.parametrize("kind", ["reply", "ping"])
def test_identical_responses_at_the_same_moment_store_one(server: Server, kind: str) -> None:
    """Ten times, two visitors send the very same reply (or ping) released by one barrier: one is stored,
    the other refused as a duplicate (409 for a reply, TrackBack error 1 for a ping)."""
    post_id, slug = server.first_post()
    page = f"/{slug}/"
    tag = secrets.token_hex(4)
    for round_ in range(10):
        text = f"Said twice {tag} round {round_}"
        url = f"http://twice.example.com/{tag}/{round_}/"
        visitors = [Client(server.url), Client(server.url)]
        if kind == "reply":
            fields = reply_fields(post_id, text)
            answers = at_once(*(partial(visitor.post_reply, page, fields) for visitor in visitors))
            statuses = sorted(answer.status for answer in answers)
            assert statuses == [302, 409], [describe(answer) for answer in answers]
            stored = server.query("SELECT count(*) FROM archive_comment WHERE content = %s", [text])[0][0]
        else:
            ping = {"url": url, "title": text, "blog_name": "Twice"}
            answers = at_once(*(partial(visitor.post_trackback, slug, ping) for visitor in visitors))
            ok = sorted(trackback_ok(answer) for answer in answers)
            assert ok == [False, True], [describe(answer) for answer in answers]
            refused = next(answer for answer in answers if not trackback_ok(answer))
            assert b"<error>1</error>" in refused.body and b"already a ping" in refused.body
            stored = server.query("SELECT count(*) FROM archive_comment WHERE author_url = %s", [url])[0][0]
        assert stored == 1, f"round {round_}: {stored} copies stored"
    log = server.stderr()
    assert "database is locked" not in log
    assert "Traceback" not in log, log[-3000:]


def test_rendering_shares_no_state_between_threads() -> None:
    """granian serves a worker's requests on several threads: a converter or cleaner shared between them
    (bleach's Cleaner keeps parser state) swaps and garbles replies. Eight threads, switching as often as
    the interpreter allows, each must get its own text back."""
    wrong: list[tuple[str, str]] = []
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)

    def render(n: int) -> None:
        for i in range(200):
            text = f"Thread {n} reply {i} with *emphasis*, `code` and http://example.com/{n}/{i}"
            try:
                html = markup.render_comment(text)
            except Exception as error:  # a parser whose state another thread changed may raise
                html = repr(error)
            if f"Thread {n} reply {i} with <em>emphasis</em>" not in html or f"example.com/{n}/{i}<" not in html:
                wrong.append((text, html))

    try:
        threads = [threading.Thread(target=render, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        sys.setswitchinterval(interval)
    assert not wrong, f"{len(wrong)} of 1600 renders wrong, e.g. {wrong[:2]}"
