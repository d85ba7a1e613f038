"""Source pages for the Pingback and Webmention tests, served by a real HTTP server on 127.0.0.1 that the
test starts (nothing else is reachable), and a worker process for the production-server tests.

    with SourceSite() as site:
        site.page("/post", html_linking_to(target))     # 200 text/html
        site.page("/gone", status=410)
        site.page("/slow", html, delay=30)               # answers after 30 s
        url = site.url("/post")
        site.requests          # [(method, path, headers)], in arrival order
        site.max_concurrent    # the most requests it was answering at once
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from django.utils.html import escape

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Page:
    body: bytes = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    gate: threading.Event | None = None  # the answer waits until the test sets it
    trickle: float = 0.0  # seconds between body bytes


def html_linking_to(target: str, *, title: str = "A post that links", text: str = "I read", extra: str = "",
                    entry: str = "") -> bytes:  # fmt: skip
    """A small blog post linking to `target`; `entry` replaces the body with microformats markup."""
    body = entry or f"<p>{escape(text)} <a href=\"{escape(target)}\">this article</a> and liked it.</p>{extra}"
    return f"<!DOCTYPE html><html><head><title>{escape(title)}</title></head><body>{body}</body></html>".encode()


class SourceSite:
    def __init__(self, host: str = "127.0.0.1"):
        self.pages: dict[str, Page] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.posted: list[tuple[str, bytes]] = []  # (path with query, body) of each POST
        self.active = 0  # requests being answered whose client is still connected
        self.max_concurrent = 0
        self.lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def handle_one(self, method: str) -> None:
                with site.lock:
                    site.requests.append((method, self.path, dict(self.headers.items())))
                    site.active += 1
                    site.max_concurrent = max(site.max_concurrent, site.active)
                try:
                    site.answer(self, method)
                finally:
                    with site.lock:
                        site.active -= 1

            def do_GET(self) -> None:
                self.handle_one("GET")

            def do_HEAD(self) -> None:
                self.handle_one("HEAD")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                with site.lock:
                    site.posted.append((self.path, self.rfile.read(length)))
                self.handle_one("POST")

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        page = self.pages.get(handler.path.split("?")[0]) or Page(b"not found", 404, "text/plain")
        if callable(page):
            page = page(handler)
        if page.gate is not None:
            page.gate.wait(60)
        if page.delay and not self.wait_connected(handler, page.delay):
            return  # the fetcher hung up first (its deadline): it no longer counts as a fetch under way
        try:
            handler.send_response(page.status)
            handler.send_header("Content-Type", page.content_type)
            handler.send_header("Content-Length", str(len(page.body)))
            handler.send_header("Connection", "close")
            for name, value in page.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            if method == "HEAD":
                return
            if page.trickle:
                for i in range(len(page.body)):
                    handler.wfile.write(page.body[i : i + 1])
                    handler.wfile.flush()
                    time.sleep(page.trickle)
            else:
                handler.wfile.write(page.body)
        except OSError:  # the fetcher hung up (its deadline): fine
            pass
        handler.close_connection = True

    @staticmethod
    def wait_connected(handler: BaseHTTPRequestHandler, seconds: float) -> bool:
        """Sleep up to `seconds`; False as soon as the client closes its end of the connection."""
        ends = time.monotonic() + seconds
        while time.monotonic() < ends:
            readable, _, _ = select.select([handler.connection], [], [], 0.05)
            if readable and not handler.connection.recv(1, socket.MSG_PEEK):
                handler.close_connection = True
                return False
        return True

    def page(self, path: str, body: bytes = b"", status: int = 200, **options) -> str:
        self.pages[path] = Page(body, status, **options)
        return self.url(path)

    def handler(self, path: str, make: Callable[[BaseHTTPRequestHandler], Page]) -> str:
        self.pages[path] = make  # type: ignore[assignment]
        return self.url(path)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def gets(self, path: str) -> int:
        with self.lock:
            return sum(1 for method, p, _ in self.requests if p.split("?")[0] == path)

    def __enter__(self) -> SourceSite:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class Worker:
    """`manage.py task_worker` as a real process on a tests.server.Server's database and settings."""

    def __init__(self, server, env: dict[str, str] | None = None):
        self.server = server
        self.env = env or {}
        self.proc: subprocess.Popen | None = None
        self.log = server.tmp / "worker.log"

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "task_worker", "--interval", "0.2", "--no-startup-delay", "-v", "2"],
                cwd=REPO, env={**self.server.server_env(), **self.env}, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def stop(self, kill: bool = False) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
        self.proc.wait(timeout=30)
        self.proc = None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def __enter__(self) -> Worker:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop(kill=True)


def wait_until(predicate: Callable[[], object], timeout: float = 60, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
