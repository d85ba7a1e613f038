"""The task queue for real: the production server and `manage.py task_worker` as separate processes on
one database, as `make run` (honcho with the Procfile) starts them. Sources are test servers on
127.0.0.1, reachable through ARCHIVE_FETCH_ALLOW_PRIVATE=1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.ping_helpers import REPO, SourceSite, Worker, html_linking_to, wait_until
from tests.server import Client, Server, free_port, reply_fields

pytestmark = pytest.mark.server
ENV = {
    "ARCHIVE_FETCH_ALLOW_PRIVATE": "1",
    "ARCHIVE_FETCH_DEADLINE_SECONDS": "3",
    "ARCHIVE_FETCH_RETRY_SECONDS": "1",
    "ARCHIVE_COMMENT_FLOOD_SECONDS": "0",
    "ARCHIVE_COMMENT_MODERATION": "open",
}


@pytest.fixture(scope="module")
def server():
    with Server(workers=2, env=ENV) as running:
        yield running


def send_mention(server: Server, source: str) -> str:
    _, slug = server.first_post()
    target = f"{server.url}/{slug}/"
    answer = Client(server.url).post("/webmention/", {"source": source, "target": target})
    assert answer.status == 202, answer.text
    return target


def mentions(server: Server, source: str) -> list[tuple]:
    return server.query("SELECT status FROM archive_comment WHERE source_url = %s", [source])


def task_statuses(server: Server) -> list[str]:
    return [row[0] for row in server.query("SELECT status FROM django_tasks_database_dbtaskresult")]


def test_the_worker_process_verifies_what_the_server_queued(server):
    with SourceSite() as site, Worker(server):
        source = site.url("/first")
        _, slug = server.first_post()
        site.page("/first", html_linking_to(f"{server.url}/{slug}/", title="Seen by the worker"))
        send_mention(server, source)
        wait_until(lambda: mentions(server, source) == [("approved",)], what="the mention to be stored")
        assert "Seen by the worker" in Client(server.url).get(f"/{slug}/").text


def test_a_task_interrupted_by_sigkill_runs_again_after_restart(server):
    gate = threading.Event()
    with SourceSite() as site:
        _, slug = server.first_post()
        site.page("/held", html_linking_to(f"{server.url}/{slug}/", title="Survived a crash"), gate=gate)
        worker = Worker(server)
        worker.start()
        try:
            send_mention(server, source := site.url("/held"))
            wait_until(lambda: site.gets("/held") == 1, what="the worker to start fetching")
            assert "RUNNING" in task_statuses(server)
            worker.stop(kill=True)  # mid-task: the fetch is waiting on the gate
            assert "RUNNING" in task_statuses(server) and mentions(server, source) == []
            gate.set()
            worker.start()
            wait_until(lambda: mentions(server, source) == [("approved",)], what="the task to run again")
            assert "requeued" in worker.output()
        finally:
            worker.stop(kill=True)


def test_a_peer_still_running_takes_over_the_task_of_a_worker_killed_mid_task(server):
    gate = threading.Event()
    with SourceSite() as site:
        _, slug = server.first_post()
        site.page("/orphan", html_linking_to(f"{server.url}/{slug}/", title="Taken over"), gate=gate)
        workers = [Worker(server, env={"ARCHIVE_TASK_RECOVER_SECONDS": "0.5"}) for _ in range(2)]
        for worker in workers:
            worker.start()
        try:
            send_mention(server, source := site.url("/orphan"))
            wait_until(lambda: site.gets("/orphan") == 1, what="a worker to start fetching")
            [(claimed,)] = server.query("SELECT worker_ids FROM django_tasks_database_dbtaskresult "
                                        "WHERE status = 'RUNNING'")  # fmt: skip
            ids = claimed if isinstance(claimed, list) else json.loads(claimed)  # PostgreSQL's JSON, or text
            pid = int(ids[-1].split(":")[1])
            victim = next(worker for worker in workers if worker.proc.pid == pid)
            victim.stop(kill=True)  # mid-task; the peer is never restarted
            gate.set()
            wait_until(lambda: mentions(server, source) == [("approved",)], what="the peer to run the task")
            assert site.gets("/orphan") == 2  # fetched once by the dead worker, once by the peer
            assert "RUNNING" not in task_statuses(server)
        finally:
            for worker in workers:
                worker.stop(kill=True)


def test_two_workers_on_one_source_host_take_turns_instead_of_sending_tasks_back(server):
    with SourceSite() as site:
        _, slug = server.first_post()
        sources = [site.page(f"/turn-{n}", html_linking_to(f"{server.url}/{slug}/"), delay=0.3) for n in range(2)]
        for source in sources:  # both queued before the workers start, so each worker takes one at once
            send_mention(server, source)
        with Worker(server), Worker(server):
            for source in sources:
                wait_until(lambda source=source: mentions(server, source) == [("approved",)], what="both stored")
        rows = server.query("SELECT args_kwargs, return_value FROM django_tasks_database_dbtaskresult")
        results = [str(result) for args, result in rows if "/turn-" in str(args)]
        assert len(results) == 2 and not [r for r in results if "deferred" in r]  # the second waited its turn
        assert site.max_concurrent == 1  # and the host never saw two fetches at once


def test_failed_fetches_retry_with_backoff_then_give_up_visibly(server):
    with SourceSite() as site, Worker(server, env={"ARCHIVE_FETCH_ATTEMPTS": "3"}):
        source = site.page("/down", b"down for maintenance", status=503)
        before = len(task_statuses(server))
        send_mention(server, source)
        wait_until(lambda: "FAILED" in task_statuses(server)[before:] or None, what="the task to give up")
        rows = server.query(
            "SELECT traceback FROM django_tasks_database_dbtaskresult WHERE status = 'FAILED' ORDER BY enqueued_at DESC"
        )
        assert "gave up after 3 attempts" in rows[0][0]
        assert site.gets("/down") == 3 and mentions(server, source) == []


def descendants(root: int) -> dict[int, str]:
    """pid -> command line of every process below `root` (from /proc: honcho gives each its own group)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, todo = {}, [root]
    while todo:
        parent = todo.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                try:
                    found[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    continue
                todo.append(pid)
    return found


def test_make_run_starts_server_and_worker_together_and_stops_both(server):
    """The Procfile as `make run` starts it (honcho), on the test server's database."""
    port = free_port()
    env = {**server.server_env(), "PORT": str(port), "WORKERS": "1", "HOST": "127.0.0.1"}
    honcho = subprocess.Popen([sys.executable, "-m", "honcho", "start", "--no-colour", "--port", str(port)],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True)  # fmt: skip
    try:
        client = Client(f"http://127.0.0.1:{port}", timeout=5)

        def serving() -> bool:
            try:
                return client.get("/").status == 200
            except OSError:
                return False

        wait_until(serving, what="granian under honcho")
        started = descendants(honcho.pid)
        assert any("task_worker" in command for command in started.values()), started
        assert any("granian" in command for command in started.values()), started
        os.kill(honcho.pid, signal.SIGTERM)
        honcho.wait(timeout=30)
        wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in started), what="every process to stop")
    finally:
        if honcho.poll() is None:
            os.killpg(honcho.pid, signal.SIGKILL)
            honcho.wait()


def test_replies_still_post_while_the_worker_is_busy(server):
    """The web server never waits for the queue: a reply posts while the worker is stuck on a fetch."""
    gate = threading.Event()
    with SourceSite() as site, Worker(server):
        post_id, slug = server.first_post()
        site.page("/stuck", html_linking_to(f"{server.url}/{slug}/"), gate=gate)
        send_mention(server, site.url("/stuck"))
        wait_until(lambda: site.gets("/stuck") == 1, what="the worker to start fetching")
        answer = Client(server.url).post_reply(f"/{slug}/", reply_fields(post_id, "Posted meanwhile"))
        assert answer.status == 302
        gate.set()


def test_discovery_headers_on_the_production_servers_fast_path(server):
    """GET twice (the second is answered by the WSGI fast path from the page cache) and HEAD: every answer
    names both endpoints, absolute."""
    _, slug = server.first_post()
    client = Client(server.url)
    answers = [client.get(f"/{slug}/"), client.get(f"/{slug}/"), client.request("HEAD", f"/{slug}/")]
    for answer in answers:
        assert answer.status == 200
        assert answer.headers["X-Pingback"] == f"{server.url}/xmlrpc.php"
        assert answer.headers["Link"] == f'<{server.url}/webmention/>; rel="webmention"'
