"""The shared cache when Redis goes away (archive/rediscache.py), against a real redis-server: stopped
(SIGSTOP: connections are accepted, nothing answers, the data is kept) and killed (SIGKILL, then started
again on the same port). Nothing raises, the archive keeps serving and posting, caching resumes by itself,
and no page from before the outage is served after it."""

from __future__ import annotations

import logging
import pickle
import time
from collections.abc import Callable, Iterator

import pytest
from django.core.cache import cache
from django.test import Client

from archive import pagecache
from archive.pings import throttle
from tests.redisserver import RedisServer
from tests.server import Client as HttpClient
from tests.server import Server, reply_fields
from tests.test_mail import deliver, mail, post_form, smtp, subscribed  # noqa: F401 (fixtures: mail, smtp)

UNAVAILABLE_LOG = "is unavailable ("
RECOVERED_LOG = "caching resumes"


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_cache(redis_server: RedisServer, settings) -> RedisServer:
    """This process's default cache is the archive's Redis cache on `redis_server`."""
    settings.CACHES = {"default": redis_server.cache_config()}
    return redis_server


def eventually(check: Callable[[], object], seconds: float = 10.0) -> object:
    """`check()`'s first true answer, asked every 50 ms; AssertionError after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if answer := check():
            return answer
        time.sleep(0.05)
    raise AssertionError(f"not true within {seconds} s: {check}")


def connections_received(server: RedisServer) -> int:
    return server.client().info("stats")["total_connections_received"]


def test_with_redis_up_it_is_a_redis_cache(redis_cache):
    assert cache.unavailable is None
    cache.set("greeting", {"hello": "world"}, 60)
    assert cache.get("greeting") == {"hello": "world"}
    assert cache.add("greeting", "other") is False
    assert redis_cache.client().keys("*greeting") == [b":1:greeting"]
    assert 0 < redis_cache.client().ttl(":1:greeting") <= 60


def test_a_stopped_redis_is_a_cache_that_holds_nothing_asked_once_a_second(redis_cache, caplog):
    cache.set("kept", "from before", None)
    before = connections_received(redis_cache)
    redis_cache.pause()
    try:
        with caplog.at_level(logging.INFO, logger="archive.rediscache"):
            assert cache.get("kept", "default") == "default"  # the one call that waits for the timeout
            for n in range(50):
                assert cache.get("kept") is None
                assert cache.get_many(["kept", "other"]) == {}
                assert cache.set(f"new-{n}", n) is None
                assert cache.add(f"new-{n}", n) is False
                assert cache.set_many({"a": 1, "b": 2}) == ["a", "b"]
                assert cache.delete("kept") is False
                with pytest.raises(ValueError, match="not found"):
                    cache.incr("counter")
            assert cache.unavailable == "TimeoutError"
    finally:
        redis_cache.resume()
    # Without the breaker each call above would have opened a new connection (a timed-out one is dropped);
    # with it: the one that timed out, perhaps one probe, and this look.
    assert connections_received(redis_cache) - before <= 3
    warnings = [r for r in caplog.records if UNAVAILABLE_LOG in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING

    with caplog.at_level(logging.INFO, logger="archive.rediscache"):
        assert eventually(lambda: cache.get("kept")) == "from before"  # Redis kept it; nothing deleted it
    assert cache.unavailable is None
    assert sum(RECOVERED_LOG in r.getMessage() for r in caplog.records) == 1


def test_a_killed_redis_started_again_is_used_again_by_itself(redis_cache):
    cache.set("lost", 1)
    redis_cache.kill()
    assert cache.get("lost") is None
    assert cache.unavailable == "ConnectionError"
    assert cache.get_or_set("computed", lambda: "made without a cache") == "made without a cache"

    redis_cache.start()  # same port, empty
    eventually(lambda: cache.set("after", "stored") or redis_cache.client().get(":1:after"))
    assert cache.get("after") == "stored"
    assert cache.get("lost") is None


def test_the_page_version_moves_on_when_redis_answers_again(redis_cache, monkeypatch):
    """An invalidation lost in the outage: Redis kept the old version, but it is never read again."""
    monkeypatch.setattr(pagecache, "versions", pagecache.SharedVersion())
    raw, key = redis_cache.client(), f":1:{pagecache.VERSION_KEY}"
    before = pagecache.current_version()
    stored_before = raw.get(key)
    assert stored_before is not None

    redis_cache.pause()
    try:
        assert cache.get("anything") is None  # this process sees the outage (the call that timed out)
        pagecache.invalidate()  # not written: the breaker keeps this process off Redis for a second
    finally:
        redis_cache.resume()
    assert raw.get(key) == stored_before  # the invalidation was lost
    assert pagecache.versions.read() != before  # asked at once: a miss, never the old version

    # With no call from here, the process catches up on its own (its probe), within about a second.
    eventually(lambda: raw.get(key) not in (stored_before, None))
    assert pagecache.versions.read() == cache.get(pagecache.VERSION_KEY) != before


def test_healthz_says_503_while_redis_is_stopped(redis_cache, post):
    assert Client().get("/healthz").status_code == 200
    redis_cache.pause()
    try:
        answer = Client().get("/healthz")
    finally:
        redis_cache.resume()
    assert answer.status_code == 503
    assert answer.content == b"cache: TimeoutError\n"
    eventually(lambda: Client().get("/healthz").status_code == 200)


def test_the_login_and_ping_limits_fail_open_while_redis_is_stopped(redis_cache, admin_user, settings):
    settings.ARCHIVE_PINGS_PER_SENDER = 2
    redis_cache.pause()
    try:
        attempts = [Client(REMOTE_ADDR="192.0.2.7").post("/admin/login/", {"username": "admin", "password": "no"})
                    for _ in range(settings.ARCHIVE_LOGIN_MAX_FAILURES + 2)]  # fmt: skip
        right = Client(REMOTE_ADDR="192.0.2.7").post("/admin/login/", {"username": "admin", "password": "password"})
        pings = [throttle.allow("192.0.2.8") for _ in range(5)]
    finally:
        redis_cache.resume()
    assert [a.status_code for a in attempts] == [200] * len(attempts)  # the form again: nothing counted
    assert right.status_code == 302
    assert pings == [True] * 5


def test_forget_me_mails_go_out_while_redis_is_stopped(redis_cache, client, post, mail, run_tasks, settings):  # noqa: F811
    subscribed(client, post, run_tasks, mail, settings)
    redis_cache.pause()
    try:
        asked = post_form(Client(), "/comments/forget/", {"email": "ann@example.org"})
    finally:
        redis_cache.resume()
    assert asked.status_code == 200 and b"is on its way" in asked.content
    (forget,) = deliver(run_tasks, mail)
    assert forget.rcpt_tos == ["ann@example.org"] and "/comments/forget/" in forget.body


@pytest.mark.server
def test_a_live_server_keeps_serving_through_an_outage_and_never_serves_a_page_from_before_it(redis_server):
    env = {"CACHE_URL": redis_server.url, "ARCHIVE_COMMENT_MODERATION": "open", "ARCHIVE_COMMENT_FLOOD_SECONDS": "0"}
    raw = redis_server.client()
    with Server(workers=2, env=env) as server:
        post_id, slug = server.first_post()
        page = f"/{slug}/"
        reader = HttpClient(server.url)
        for _ in range(4):  # cached, in Redis and in the workers that answered
            answer = reader.get(page)
            assert answer.status == 200 and "No Responses yet" in answer.text
        before = raw.get(f":1:{pagecache.VERSION_KEY}")
        assert before is not None and raw.keys(":1:archive:page:*")

        redis_server.pause()
        try:
            during = [reader.get(page) for _ in range(3)]
            posted = HttpClient(server.url).post_reply(page, reply_fields(post_id, "Posted while Redis slept"))
            after_post = [reader.get(page) for _ in range(3)]
            health = reader.get("/healthz")
        finally:
            redis_server.resume()
        assert [a.status for a in during] == [200] * 3
        assert posted.status == 302, posted.text[:300]
        assert [a.status for a in after_post] == [200] * 3
        assert all("Posted while Redis slept" in a.text for a in after_post)  # rendered, uncached
        assert health.status == 503 and health.text.startswith("cache: ")

        # Every worker that saw Redis fail moves the version on as soon as Redis answers, unasked.
        eventually(lambda: raw.get(f":1:{pagecache.VERSION_KEY}") not in (before, None))
        for _ in range(8):  # enough that every worker answers
            answer = reader.get(page)
            assert answer.status == 200
            assert "Posted while Redis slept" in answer.text and "One Response to" in answer.text
        eventually(lambda: reader.get("/healthz").status == 200)  # each worker within about a second

        def cached_under_the_current_version() -> bool:  # each worker that saw the outage moved it on once
            assert reader.get(page).status == 200
            return bool(raw.keys(f":1:archive:page:{pickle.loads(raw.get(f':1:{pagecache.VERSION_KEY}'))}:*"))

        eventually(cached_under_the_current_version)  # caching resumed
        warned = server.stderr().count(UNAVAILABLE_LOG)
        assert 1 <= warned <= server.workers  # once per process per outage, not once per call
