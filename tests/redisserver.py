"""A real Redis for tests: Debian's `redis-server` on a free port of 127.0.0.1, in its own folder, keeping
nothing on disk, started as a subprocess. Faults are real signals: `pause()` (SIGSTOP: the port still
accepts connections, nothing answers, the data is kept), `resume()`, `kill()` (SIGKILL: the data is gone),
`start()` again on the same port.

    with RedisServer() as server:
        settings.CACHES = {"default": server.cache_config()}
        server.pause()
        ...
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis

from tests.server import free_port

BINARY = shutil.which("redis-server") or "/usr/bin/redis-server"


def require_redis_server() -> None:
    """Skip without Debian's redis-server; with CI=true that is a failure (`.ci/system-deps.sh` installs it)."""
    if os.access(BINARY, os.X_OK):
        return
    message = "redis-server is missing: apt-get install redis-server (make test installs it as root)"
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"{message}. CI=true, so this is a failure, not a skip.", pytrace=False)
    pytest.skip(message)


class RedisServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix="archive-redis-"))
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def cache_config(self) -> dict:
        """CACHES["default"] as settings.py makes it from CACHE_URL=<url>."""
        return {"BACKEND": "archive.rediscache.RedisCache", "LOCATION": self.url}

    def client(self) -> redis.Redis:
        """A plain client, outside the cache under test, to look at what Redis holds."""
        return redis.Redis(host="127.0.0.1", port=self.port, db=0, socket_timeout=10)

    def start(self) -> None:
        """Start redis-server (again, on the same port after `kill`) and wait until it answers; when it does
        not, everything is cleaned up and RuntimeError says why."""
        command = [BINARY, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                   "--dir", str(self.tmp), "--logfile", str(self.tmp / "redis.log")]  # fmt: skip
        self.proc = subprocess.Popen(command, cwd=self.tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not self._answers(within=10):
            log_file = self.tmp / "redis.log"
            log = log_file.read_text(errors="replace") if log_file.exists() else "(no log)"
            self.close()
            raise RuntimeError(f"redis-server did not come up: {log}")

    def _answers(self, within: float) -> bool:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline and self.proc.poll() is None:
            with contextlib.suppress(redis.exceptions.ConnectionError):
                if self.client().ping():
                    return True
            time.sleep(0.05)
        return False

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.resume()  # a stopped process would not see SIGTERM before SIGCONT
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        require_redis_server()
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
