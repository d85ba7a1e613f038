"""`make cluster` (deploy/cluster.py) as a subprocess, for tests/test_cluster.py and `make bench`: the launcher on
five free consecutive ports, and what its state file says (ports, pids, the database URL).

    cluster = Cluster(tmp, env={"ARCHIVE_COMMENT_MODERATION": "open"})
    cluster.start()                       # returns once the launcher says it is ready
    Client(cluster.url()).get("/")        # through nginx; cluster.url("app1") is the first app server
    cluster.stop()                        # SIGINT, as Ctrl-C
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psycopg

from tests.ping_helpers import wait_until
from tests.server import REPO, libpq_url


def free_base_port() -> int:
    """A port P with P … P+4 all free (nginx, two app servers, PostgreSQL, Redis)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + 4 < 65536 and all(port_free(base + offset) for offset in range(5)):
            return base
    raise RuntimeError("no five consecutive free ports")


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Cluster:
    """The launcher as a subprocess, and what its state file says."""

    def __init__(self, tmp: Path, env: dict[str, str] | None = None):
        self.env = env or {}
        self.port = free_base_port()
        self.state_file = tmp / "state.json"
        self.log = tmp / "cluster.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, **self.env, "PORT": str(self.port), "CLUSTER_STATE": str(self.state_file)}
        for name in ("DATABASE_URL", "CACHE_URL", "ARCHIVE_PAGE_DIR"):
            env.pop(name, None)  # the test run's own: the cluster has its own
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "deploy/cluster.py"], cwd=REPO, env=env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        wait_until(lambda: "ready:" in self.output() or self.proc.poll() is not None, timeout=180,
                   what="the cluster to come up")  # fmt: skip
        assert self.proc.poll() is None, self.output()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    @property
    def state(self) -> dict:
        return json.loads(self.state_file.read_text())

    def pid(self, name: str) -> int:
        return self.state["pids"][name]

    def url(self, which: str = "nginx") -> str:
        port = self.port if which == "nginx" else self.state["app_ports"][int(which[-1]) - 1]
        return f"http://127.0.0.1:{port}"

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(libpq_url(self.state["database_url"]), autocommit=True) as db:
            return db.execute(sql, params).fetchall()

    def manage(self, *args: str) -> None:
        env = {**os.environ, **self.env, **self.state["env"]}
        subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, check=True, capture_output=True)

    def first_post(self) -> tuple[int, str]:
        [(post_id, slug)] = self.query("SELECT id, slug FROM archive_post ORDER BY id LIMIT 1")
        return post_id, slug

    def stop(self) -> dict[str, int]:
        pids = self.state["pids"] if self.state_file.exists() else {}
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)  # what Ctrl-C sends
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                raise
        return pids
