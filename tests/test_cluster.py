"""The several-server deployment as `make cluster` runs it (deploy/cluster.py): PostgreSQL, Redis, two granian
app servers, two task workers and nginx, real processes on 127.0.0.1, brought up once for the module.

What it proves: one server's write is on the other's next page and through nginx; sessions, the flood
window and the login limit hold across servers; readers behind nginx are told apart by their own address;
fifty Webmentions through nginx are each verified and shown once by two workers; and the faults of issue 17
(Redis gone, PostgreSQL restarted, an app server and a worker SIGKILLed) end as promised. Last, Ctrl-C stops
every process the launcher started.

Runs once per CI run, in the SQLite pass: the cluster brings its own PostgreSQL, whatever DATABASE_URL says.
"""

from __future__ import annotations

import html
import itertools
import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest

from tests.cluster import Cluster, alive
from tests.ping_helpers import SourceSite, html_linking_to, wait_until
from tests.server import Client, reply_fields

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="runs once, in the SQLite pass"),
]
NEEDS = {"PostgreSQL 15": "/usr/lib/postgresql/15/bin/postgres", "Redis": "/usr/bin/redis-server",
         "nginx": "/usr/sbin/nginx"}  # fmt: skip
CLUSTER_ENV = {
    "ARCHIVE_COMMENT_MODERATION": "open",
    "ARCHIVE_COMMENT_FLOOD_SECONDS": "30",
    "ARCHIVE_LOGIN_MAX_FAILURES": "3",
    "ARCHIVE_PINGS_PER_SENDER": "1000",
    "ARCHIVE_FETCH_ALLOW_PRIVATE": "1",
    "ARCHIVE_FETCH_DEADLINE_SECONDS": "3",
    "ARCHIVE_FETCH_RETRY_SECONDS": "1",
    "ARCHIVE_TASK_RECOVER_SECONDS": "1",
    "CLUSTER_RESTART_SECONDS": "3",
    "DJANGO_SUPERUSER_PASSWORD": "cluster-moderator-pw",
}
EMAILS = itertools.count()
SENDERS = itertools.count(1)
REPLY_ID = re.compile(r"#comment-(\d+)$")
CSRF_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    missing = [name for name, path in NEEDS.items() if not os.access(path, os.X_OK)]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"missing Debian packages: {missing} (.ci/system-deps.sh installs them as root)")
        pytest.skip(f"needs {', '.join(missing)} (make system-deps as root)")
    running = Cluster(tmp_path_factory.mktemp("cluster"), CLUSTER_ENV)
    running.start()
    yield running
    running.stop()


def reply(post_id: int, text: str) -> dict[str, str]:
    """A reply's fields from a commenter not seen before (the flood check also knows commenters by email)."""
    return reply_fields(post_id, text, email=f"reader-{next(EMAILS)}@example.com")


def form_token(page) -> str:
    """The CSRF token of an admin form (the admin keeps Django's token check)."""
    return CSRF_TOKEN.search(page.text).group(1)


def reply_id(answer) -> int:
    assert answer.status == 302, answer.text[:500]
    return int(REPLY_ID.search(answer.location).group(1))


def send_mention(cluster: Cluster, source: str) -> None:
    _, slug = cluster.first_post()
    sender = Client(cluster.url(), source=f"127.0.3.{next(SENDERS)}")  # each its own: pings meet the flood window
    answer = sender.post("/webmention/", {"source": source, "target": f"{cluster.url()}/{slug}/"})
    assert answer.status == 202, answer.text


def mention_status(cluster: Cluster, source: str) -> list[tuple]:
    return cluster.query("SELECT status FROM archive_comment WHERE source_url = %s", (source,))


def healthy(cluster: Cluster, which: str = "nginx") -> bool:
    try:
        return Client(cluster.url(which), timeout=5).get("/healthz").status == 200
    except OSError:  # not listening (yet)
        return False


def stored(cluster: Cluster, comment_id: int) -> bool:
    return bool(cluster.query("SELECT 1 FROM archive_comment WHERE id = %s", (comment_id,)))


# --- One site, whichever server answers -------------------------------------------------------------------


def test_a_reply_through_one_server_is_on_the_others_page_at_once_and_through_nginx(cluster):
    post_id, slug = cluster.first_post()
    for which in ("app1", "app2", "nginx"):  # every server has the page stored before the reply
        assert Client(cluster.url(which)).get(f"/{slug}/").status == 200
    text = "Posted through the first server, read on the second"
    reply_id(Client(cluster.url("app1"), source="127.0.0.11").post_reply(f"/{slug}/", reply(post_id, text)))
    for which in ("app2", "nginx", "app1"):
        assert text in Client(cluster.url(which)).get(f"/{slug}/").text, which


def test_a_moderation_on_one_server_shows_on_the_other_with_one_session(cluster):
    post_id, slug = cluster.first_post()
    cluster.manage("createsuperuser", "--noinput", "--username", "moderator", "--email", "m@example.com")
    text = "Held for its links, https://one.example/ and https://two.example/, then approved elsewhere"
    reader = Client(cluster.url("app1"), source="127.0.0.12")
    comment = reply_id(reader.post_reply(f"/{slug}/", reply(post_id, text)))
    assert cluster.query("SELECT status FROM archive_comment WHERE id = %s", (comment,)) == [("pending",)]
    assert "one.example" not in Client(cluster.url("app1")).get(f"/{slug}/").text

    moderator = Client(cluster.url("app2"))
    login = moderator.get("/admin/login/")
    token = form_token(login)
    answer = moderator.post("/admin/login/?next=/admin/", {"csrfmiddlewaretoken": token, "username": "moderator",
                                                            "password": CLUSTER_ENV["DJANGO_SUPERUSER_PASSWORD"]},
                            headers={"Referer": cluster.url("app2") + "/admin/login/"})  # fmt: skip
    assert answer.status == 302, answer.text[:500]
    moderator.base_url = cluster.url("app1")  # the session made on the second server, used on the first
    changelist = moderator.get("/admin/archive/comment/")
    assert changelist.status == 200 and "moderator" in changelist.text
    token = form_token(changelist)
    moderator.base_url = cluster.url("app2")
    done = moderator.post("/admin/archive/comment/", {"csrfmiddlewaretoken": token, "action": "mark_approved",
                                                      "_selected_action": str(comment), "index": "0"},
                          headers={"Referer": cluster.url("app2") + "/admin/archive/comment/"})  # fmt: skip
    assert done.status == 302, done.text[:500]
    assert "one.example" in Client(cluster.url("app1")).get(f"/{slug}/").text


def test_the_flood_window_holds_across_servers_and_keeps_the_text(cluster):
    post_id, slug = cluster.first_post()
    first = Client(cluster.url("app1"), source="127.0.0.13")
    reply_id(first.post_reply(f"/{slug}/", reply(post_id, "The first of two quick replies")))
    second = Client(cluster.url("app2"), source="127.0.0.13")
    text = "The second, on the other server, inside the window"
    answer = second.post_reply(f"/{slug}/", reply(post_id, text))
    assert answer.status == 429
    assert html.escape(text) in answer.text  # handed back in the form, not lost
    assert not cluster.query("SELECT 1 FROM archive_comment WHERE content = %s", (text,))


def test_the_login_limit_counts_failures_on_both_servers(cluster):
    def attempt(which: str) -> int:
        client = Client(cluster.url(which), source="127.0.0.14")
        token = form_token(client.get("/admin/login/"))
        return client.post("/admin/login/", {"csrfmiddlewaretoken": token, "username": "admin",
                                             "password": "wrong"},
                           headers={"Referer": cluster.url(which) + "/admin/login/"}).status  # fmt: skip

    assert [attempt("app1"), attempt("app2"), attempt("app1")] == [200, 200, 200]  # three failures, two servers
    assert attempt("app2") == 429


def test_readers_behind_nginx_are_told_apart_and_a_forged_header_changes_nothing(cluster):
    post_id, slug = cluster.first_post()
    two, three = (Client(cluster.url(), source=address) for address in ("127.0.0.2", "127.0.0.3"))
    first = reply_id(two.post_reply(f"/{slug}/", reply(post_id, "From the second loopback address")))
    assert two.post_reply(f"/{slug}/", reply(post_id, "Too soon, from the same reader")).status == 429
    other = reply_id(three.post_reply(f"/{slug}/", reply(post_id, "Another reader, not held back")))
    # Straight to an app server, not through nginx, claiming to be forwarded for someone else.
    forger = Client(cluster.url("app1"), source="127.0.0.4")
    forged = reply_id(forger.post_reply(f"/{slug}/", reply(post_id, "Claiming to be someone else"),
                                        headers={"X-Forwarded-For": "127.0.0.99"}))  # fmt: skip
    again = forger.post_reply(f"/{slug}/", reply(post_id, "And again, as yet another"),
                              headers={"X-Forwarded-For": "127.0.0.98"})  # fmt: skip
    assert again.status == 429  # the header did not move the forger out of its own flood window
    addresses = dict(cluster.query("SELECT id, host(ip_address) FROM archive_comment WHERE id IN (%s, %s, %s)",
                                   (first, other, forged)))  # fmt: skip
    assert addresses == {first: "127.0.0.2", other: "127.0.0.3", forged: "127.0.0.4"}


# --- The shared queue ---------------------------------------------------------------------------------------


def test_fifty_webmentions_through_nginx_are_each_verified_and_shown_once(cluster):
    _, slug = cluster.first_post()
    target = f"{cluster.url()}/{slug}/"
    with SourceSite() as site:
        sources = [site.page(f"/mention-{n}", html_linking_to(target, title=f"Mention number {n}")) for n in range(50)]
        for n, source in enumerate(sources):  # fifty senders: one sender's pings would meet the flood window
            sender = Client(cluster.url(), source=f"127.0.2.{n + 1}")
            assert sender.post("/webmention/", {"source": source, "target": target}).status == 202

        def verified() -> int:
            return cluster.query("SELECT count(*) FROM archive_comment WHERE source_url LIKE %s "
                                 "AND status = 'approved'", (f"{site.url('/mention-')}%",))[0][0]  # fmt: skip

        wait_until(lambda: verified() == 50, timeout=240, what="fifty mentions to be verified")
        rows = cluster.query("SELECT source_url, id FROM archive_comment WHERE source_url LIKE %s",
                             (f"{site.url('/mention-')}%",))  # fmt: skip
        assert sorted(source for source, _ in rows) == sorted(sources)  # one response per source
        runs = cluster.query("SELECT worker_ids FROM django_tasks_database_dbtaskresult WHERE status = 'SUCCESSFUL' "
                             "AND args_kwargs::text LIKE %s", (f"%{site.url('/mention-')}%",))  # fmt: skip
        assert all(len(ids) == 1 for (ids,) in runs)  # claimed once each: no task ran twice
        assert all(site.gets(f"/mention-{n}") == 1 for n in range(50))  # each source fetched once
    reader, pages = Client(cluster.url()), []
    while (page := reader.get(f"/{slug}/comment-page-{len(pages) + 1}/")).status == 200:
        pages.append(page.text)
    shown = re.findall(r'<li id="comment-(\d+)"', "".join(pages))
    assert all(shown.count(str(comment)) == 1 for _, comment in rows)  # each on exactly one page, once


# --- Faults ---------------------------------------------------------------------------------------------------


def test_with_redis_stopped_pages_serve_and_replies_post_and_nothing_stale_follows(cluster):
    post_id, slug = cluster.first_post()
    for which in ("app1", "app2"):
        assert Client(cluster.url(which)).get(f"/{slug}/").status == 200  # stored under the current version
    redis = cluster.pid("redis")
    os.kill(redis, signal.SIGSTOP)  # hung, with its data: the hardest case for staleness
    try:
        pages = [Client(cluster.url()).get(f"/{slug}/") for _ in range(6)]
        assert [page.status for page in pages] == [200] * 6
        text = "Posted while Redis was stopped"
        reply_id(Client(cluster.url(), source="127.0.0.21").post_reply(f"/{slug}/", reply(post_id, text)))
        assert Client(cluster.url()).get("/healthz").status == 503
    finally:
        os.kill(redis, signal.SIGCONT)
    wait_until(lambda: healthy(cluster), what="health after Redis is back")
    for which in ("app1", "app2", "nginx", "app1", "app2"):
        assert text in Client(cluster.url(which)).get(f"/{slug}/").text, which  # never the pre-outage page


def test_a_postgresql_restart_gives_503_then_every_server_recovers_alone(cluster):
    post_id, slug = cluster.first_post()
    servers = {name: cluster.pid(name) for name in ("app1", "app2", "worker1", "worker2")}
    os.kill(cluster.pid("postgres"), signal.SIGINT)  # fast shutdown; the launcher starts it again in 3 s
    text = "Typed while the database restarts"
    during = wait_until(lambda: (answer := Client(cluster.url(), source="127.0.0.22").post_reply(
        f"/{slug}/", reply(post_id, text))).status == 503 and answer, timeout=10, what="a 503")  # fmt: skip
    assert during.headers["Retry-After"] and html.escape(text) in during.text
    assert "Traceback" not in during.text
    wait_until(lambda: healthy(cluster), what="PostgreSQL back")
    for which in ("app1", "app2"):
        assert Client(cluster.url(which)).get(f"/{slug}/?replytocom=1").status == 200  # uncached: the database
    after = "Posted once the database was back"
    comment = reply_id(Client(cluster.url(), source="127.0.0.23").post_reply(f"/{slug}/", reply(post_id, after)))
    assert stored(cluster, comment)
    assert {name: cluster.pid(name) for name in servers} == servers  # none of them was restarted
    with SourceSite() as site:
        source = site.page("/after-restart", html_linking_to(f"{cluster.url()}/{slug}/", title="After the restart"))
        send_mention(cluster, source)
        wait_until(lambda: mention_status(cluster, source) == [("approved",)], what="a verification after it")


def test_an_app_server_killed_under_load_loses_no_reader_and_no_acknowledged_reply(cluster):
    post_id, slug = cluster.first_post()
    statuses: list[int] = []
    acknowledged: list[int] = []
    stop = threading.Event()

    def read() -> None:
        reader = Client(cluster.url())
        while not stop.is_set():
            statuses.append(reader.get(f"/{slug}/").status)

    def write(n: int) -> None:
        for i in range(40):
            if stop.is_set():
                return
            writer = Client(cluster.url(), source=f"127.0.1.{n * 40 + i + 1}")  # one reader each: no flood
            answer = writer.post_reply(f"/{slug}/", reply(post_id, f"Under load {n}-{i}"))
            if answer.status == 302:
                acknowledged.append(reply_id(answer))

    threads = [threading.Thread(target=read) for _ in range(3)]
    threads += [threading.Thread(target=write, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    time.sleep(1)
    os.killpg(cluster.pid("app1"), signal.SIGKILL)  # the server and its workers, mid-load
    time.sleep(2)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses and set(statuses) == {200}  # every read answered: nginx sent them to the other server
    assert acknowledged and all(stored(cluster, comment) for comment in acknowledged)
    wait_until(lambda: healthy(cluster, "app1"), what="the launcher to start the server again")


def test_a_worker_killed_mid_task_has_its_task_run_once_by_the_other(cluster):
    _, slug = cluster.first_post()
    gate = threading.Event()
    with SourceSite() as site:
        page = html_linking_to(f"{cluster.url()}/{slug}/", title="Outlived its worker")
        source = site.page("/held", page, gate=gate)
        send_mention(cluster, source)
        wait_until(lambda: site.gets("/held") == 1, what="a worker to start fetching")
        [(ids,)] = cluster.query("SELECT worker_ids FROM django_tasks_database_dbtaskresult "
                                 "WHERE status = 'RUNNING'")  # fmt: skip
        pid = int(ids[-1].split(":")[1])
        victim = next(name for name in ("worker1", "worker2") if cluster.pid(name) == pid)
        os.killpg(pid, signal.SIGKILL)
        gate.set()
        wait_until(lambda: mention_status(cluster, source) == [("approved",)], what="the task to run on")
        assert site.gets("/held") == 2  # the killed worker's fetch, and the one that completed
    assert not cluster.query("SELECT 1 FROM django_tasks_database_dbtaskresult WHERE status = 'RUNNING'")
    wait_until(lambda: cluster.pid(victim) != pid and alive(cluster.pid(victim)),
               what="the launcher to start the worker again")  # fmt: skip


# --- Stopping ---------------------------------------------------------------------------------------------------


def test_ctrl_c_stops_every_process_the_cluster_started(cluster):
    pids = cluster.stop()
    assert set(pids) == {"postgres", "redis", "app1", "app2", "worker1", "worker2", "nginx"}
    wait_until(lambda: not any(alive(pid) for pid in pids.values()), timeout=30, what="every process to end")
    assert "stopped" in cluster.output()
    assert not Path(cluster.state["folder"]).exists()
