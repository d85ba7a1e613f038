"""Debian's nginx for tests and `make bench`, on a free port of 127.0.0.1, in a folder of its own.

Two shapes: `Nginx.front(app_url, pages)` runs the shipped deploy/nginx/ includes in front of an app server
(answering stored pages from ARCHIVE_PAGE_DIR itself, as in production); `Nginx.static(docroot)` serves a
folder of files, the reference every benchmark figure is compared with.

    with Nginx.front(server.url, server.page_dir) as front:
        urllib.request.urlopen(front.url + "/")
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy" / "nginx"
BINARY = shutil.which("nginx") or "/usr/sbin/nginx"


def available() -> bool:
    return os.access(BINARY, os.X_OK)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Nginx:
    def __init__(self, server_block: str, http_extra: str = "", workers: int = 1):
        self.tmp = Path(tempfile.mkdtemp(prefix="archive-nginx-"))
        self.port = free_port()
        self.conf = self.tmp / "nginx.conf"
        temp_paths = "".join(
            f"  {kind}_temp_path {self.tmp / kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        # As root, nginx's workers would run as nobody, who may not read the test's private folders.
        user = "user root;\n" if os.geteuid() == 0 else ""
        self.conf.write_text(
            f"{user}daemon off; worker_processes {workers}; pid {self.tmp / 'nginx.pid'};\n"
            f"error_log {self.tmp / 'error.log'} warn;\n"
            "events { worker_connections 1024; }\n"
            "http {\n"
            f"  access_log off; sendfile on; keepalive_requests 100000;\n{temp_paths}{http_extra}"
            f"  server {{\n    listen 127.0.0.1:{self.port};\n{server_block}  }}\n"
            "}\n"
        )
        self.proc: subprocess.Popen | None = None

    @classmethod
    def front(cls, app_url: str, pages: Path, workers: int = 1) -> Nginx:
        """The shipped configuration, as deploy/nginx.conf puts it together, in front of `app_url`."""
        upstream = app_url.removeprefix("http://")
        http_extra = (
            f"  include {DEPLOY / 'archive-http.conf'};\n"
            f"  upstream archive_app {{ server {upstream}; keepalive 8; }}\n"
        )
        block = f"    set $archive_pages {pages};\n    include {DEPLOY / 'archive-server.conf'};\n"
        return cls(block, http_extra, workers)

    @classmethod
    def static(cls, docroot: Path, workers: int = 2) -> Nginx:
        return cls(f"    root {docroot};\n    default_type text/html;\n", workers=workers)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [BINARY, "-c", str(self.conf), "-e", str(self.tmp / "error.log")],
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx did not start:\n{self.errors()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not listen on {self.port}:\n{self.errors()}")

    def errors(self) -> str:
        log = self.tmp / "error.log"
        return log.read_text() if log.exists() else ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> Nginx:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def fetch(url: str, headers: dict[str, str] | None = None, method: str = "GET", timeout: float = 10):
    """One request, no redirects followed, every status returned: (status, headers, body)."""
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as answer:
            return answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()
