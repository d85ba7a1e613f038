"""A harness that runs the production server for real: gunicorn with `archive/gunicorn.conf.py` (or, with
`kind="granian"` or ARCHIVE_TEST_SERVER=granian, granian as `make run` starts it), its own database and its
own cache, on a free port of 127.0.0.1. Tests of what only a real multi-process server
shows (concurrent writers, crashes, shared caches, benchmarks) use it instead of Django's test client.

    with Server(workers=3, env={"ARCHIVE_COMMENT_MODERATION": "open"}) as server:
        post_id, slug = server.first_post()
        visitor = Client(server.url)
        answer = visitor.post_reply(f"/{slug}/", reply_fields(post_id, "Hello"))
        assert answer.status == 302
        server.stop(kill=True)          # SIGKILL to the whole process group
        server.start()                  # same database, same port
        rows = server.query("SELECT count(*) FROM archive_comment")

The database is a fresh SQLite file in a temporary folder; or, when DATABASE_URL names PostgreSQL (given as
an argument or in the environment), a fresh database created beside the one it names and dropped on close
(the role needs CREATEDB, as pytest-django's own test database does). Before the first start the harness
runs `manage.py migrate` and `manage.py import_seeds`, as `make run` does. The cache is a file cache in the
same temporary folder, so every worker shares it as in production.

Only the standard library talks HTTP here (urllib with a cookie jar), so that what the tests see is what a
client on the wire sees: real cookies, real redirects, real status codes.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import http.cookiejar
import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
POSTGRES_SCHEMES = ("postgres", "postgresql", "pgsql")
SERVER_KINDS = ("gunicorn", "granian")
# What the server gets unless the caller's `env` says otherwise.
SERVER_ENV_DEFAULTS = {
    "ARCHIVE_PLAIN_STATIC": "1",  # no collectstatic manifest needed
    "DJANGO_DEBUG": "0",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    "PYTHONUNBUFFERED": "1",
}
# Variables of the test run that must not leak into the server (each server picks its own).
SERVER_ENV_DROPPED = ("SQLITE_TEST_NAME", "DATABASE_URL", "CACHE_URL", "WEB_CONCURRENCY", "DJANGO_SECRET_KEY")


def uses_postgres(database_url: str | None) -> bool:
    return bool(database_url) and urllib.parse.urlsplit(database_url).scheme in POSTGRES_SCHEMES


def libpq_url(database_url: str) -> str:
    """The same URL with a scheme libpq accepts (dj-database-url also takes `pgsql://`)."""
    return "postgresql" + database_url[database_url.index(":") :]


def with_database(database_url: str, name: str) -> str:
    parts = urllib.parse.urlsplit(database_url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


def free_port() -> int:
    """A port nobody listens on right now (the kernel's choice; `start` retries if it was taken since)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_has_control_socket() -> bool:
    """gunicorn 25+ opens a control socket at one fixed path per user; two servers at once would fight
    over it, so each harness server gets its own."""
    from gunicorn.config import make_settings

    return "control_socket" in make_settings()


class ServerError(RuntimeError):
    """The server did not come up (its stderr is in the message)."""


class Server:
    """One production server process tree and the database and cache it owns. See the module docstring.

    Methods: `start()`, `stop(kill=False)`, `restart(kill=False)`, `close()` (or use it as a context
    manager), `query(sql, params)` (on its database, from outside), `first_post()`, `manage(*args)`,
    `stderr()`. Attributes: `url` (http://127.0.0.1:PORT, kept across restarts), `database_url`,
    `sqlite_path` (None on PostgreSQL), `tmp` (its folder, removed on close), `workers`, `kind`
    (gunicorn or granian), `env` (variables added to the server's environment, over the defaults).
    """

    def __init__(
        self,
        workers: int = 2,
        env: Mapping[str, str] | None = None,
        database_url: str | None = None,
        ready_timeout: float = 60.0,
        kind: str | None = None,
    ):
        self.kind = kind or os.environ.get("ARCHIVE_TEST_SERVER") or "gunicorn"
        if self.kind not in SERVER_KINDS:
            raise ValueError(f"unknown server kind {self.kind!r}: one of {', '.join(SERVER_KINDS)}")
        self.workers = workers
        self.env = dict(env or {})
        self.ready_timeout = ready_timeout
        self.tmp = Path(tempfile.mkdtemp(prefix="archive-server-"))
        self.stderr_path = self.tmp / "server.stderr"
        self.stdout_path = self.tmp / "server.stdout"
        self.port = free_port()
        self.secret_key = secrets.token_urlsafe(50)
        self._proc: subprocess.Popen | None = None
        self._admin_url: str | None = None  # PostgreSQL: where CREATE/DROP DATABASE are run from
        given = database_url if database_url is not None else os.environ.get("DATABASE_URL", "")
        if uses_postgres(given):
            self._admin_url = libpq_url(given)
            self.db_name = f"archive_srv_{secrets.token_hex(6)}"
            self.database_url = with_database(given, self.db_name)
            self.sqlite_path: Path | None = None
        else:
            self.db_name = ""
            self.sqlite_path = self.tmp / "db.sqlite3"
            self.database_url = f"sqlite:///{self.sqlite_path}"
        self._prepared = False
        self._started_once = False  # after the first start the port is kept, so the URL never changes

    # --- lifecycle -------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The gunicorn master's pid, which is also the process group of all its workers."""
        return self._proc.pid if self._proc else None

    def server_env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key not in SERVER_ENV_DROPPED}
        env.update(SERVER_ENV_DEFAULTS)
        env.update(
            DATABASE_URL=self.database_url,
            CACHE_URL=f"file://{self.tmp / 'cache'}",
            ARCHIVE_PAGE_DIR=str(self.tmp / "pages"),
            DJANGO_SECRET_KEY=self.secret_key,
            WEB_CONCURRENCY=str(self.workers),
            DJANGO_SETTINGS_MODULE="archive.settings",
        )
        env.update(self.env)
        return env

    def manage(
        self, *args: str, check: bool = True, timeout: float = 300, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        """`manage.py ARGS` against this server's database, cache and settings (same venv as the tests),
        with `env` added to the server's variables. Output is captured as text."""
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env={**self.server_env(), **(env or {})},
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )

    def prepare(self) -> None:
        """Create the database (PostgreSQL), migrate it and import the seeds; once per Server."""
        if self._prepared:
            return
        if self._admin_url:
            self._postgres(f'CREATE DATABASE "{self.db_name}"')
        for args in (("migrate", "--noinput"), ("createcachetable",), ("import_seeds",)):
            done = self.manage(*args, check=False)
            if done.returncode != 0:
                raise ServerError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        self._prepared = True

    def start(self) -> None:
        """Start gunicorn (after `prepare` the first time) and wait until it answers GET /."""
        if self.running:
            return
        self.prepare()
        for attempt in range(3):
            self._spawn()
            try:
                self.wait_ready()
                return
            except ServerError:
                self.stop(kill=True)
                if attempt < 2 and "Address already in use" in self.stderr() and not self._started_once:
                    self.port = free_port()  # taken between free_port() and gunicorn's bind: pick another
                    continue
                raise

    def command(self) -> list[str]:
        """The server's command line, run from the repository with this interpreter's environment."""
        if self.kind == "granian":  # as the Makefile's `make run`
            return [
                sys.executable, "-m", "granian", "--interface", "wsgi",
                "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers),
                "--blocking-threads", "1", "--log-level", "warning", "archive.wsgi:application",
            ]  # fmt: skip
        cmd = [
            sys.executable, "-m", "gunicorn", "archive.wsgi:application",
            "--config", "archive/gunicorn.conf.py",
            "--bind", f"127.0.0.1:{self.port}",
        ]  # fmt: skip
        if gunicorn_has_control_socket():
            cmd += ["--control-socket", str(self.tmp / "gunicorn.ctl")]
        return cmd

    def _spawn(self) -> None:
        cmd = self.command()
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            self._proc = subprocess.Popen(
                cmd, cwd=REPO, env=self.server_env(), stdout=out, stderr=err, start_new_session=True
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        probe = Client(self.url, timeout=5)
        while time.monotonic() < deadline:
            if not self.running:
                raise ServerError(f"the server exited with {self._proc.returncode}:\n{self.stderr()[-4000:]}")
            try:
                if probe.get("/").status == 200:
                    self._started_once = True
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise ServerError(f"the server did not answer within {self.ready_timeout} s:\n{self.stderr()[-4000:]}")

    def stop(self, kill: bool = False, timeout: float = 30.0) -> None:
        """SIGTERM to the master (gunicorn's graceful stop), or SIGKILL to the whole process group when
        `kill` is true (a crash: workers die mid-request). Either way, returns once every process is gone."""
        proc = self._proc
        if proc is None:
            return
        pgid = proc.pid  # start_new_session: the master leads its own group
        with contextlib.suppress(ProcessLookupError):
            if kill:
                os.killpg(pgid, signal.SIGKILL)
            else:
                proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            proc.wait(timeout=timeout)
        # Workers orphaned by a killed master are reaped by init; wait until the group is empty.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            time.sleep(0.05)
        self._proc = None

    def restart(self, kill: bool = False) -> None:
        """Stop (gracefully, or SIGKILL with `kill`) and start again on the same database and port."""
        self.stop(kill=kill)
        self.start()

    def close(self) -> None:
        """Stop the server, drop its PostgreSQL database, delete its folder."""
        self.stop()
        if self._admin_url and self._prepared:
            self._drop_database()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _drop_database(self, attempts: int = 20) -> None:
        """DROP … WITH (FORCE) ends our own connections, but not an autovacuum worker that the fresh data
        just woke (it runs as the superuser, which our role may not signal): wait for it to finish."""
        import psycopg

        for attempt in range(attempts):
            try:
                self._postgres(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
                return
            except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse):
                if attempt == attempts - 1:
                    raise
                time.sleep(0.5)

    def __enter__(self) -> Server:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- looking inside --------------------------------------------------------------------------------

    def stderr(self) -> str:
        """Everything the server wrote to stderr so far (all starts together)."""
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Run one SQL statement on the server's database, from outside the server, and return its rows.
        Placeholders are written `%s` for both databases."""
        if self.sqlite_path is not None:
            with contextlib.closing(sqlite3.connect(self.sqlite_path, timeout=30)) as conn:
                rows = conn.execute(sql.replace("%s", "?"), tuple(params)).fetchall()
                conn.commit()
                return rows
        import psycopg

        with psycopg.connect(libpq_url(self.database_url), autocommit=True) as conn:
            cursor = conn.execute(sql, tuple(params))
            return cursor.fetchall() if cursor.description else []

    def first_post(self) -> tuple[int, str]:
        """(id, slug) of the imported seed post."""
        rows = self.query("SELECT id, slug FROM archive_post ORDER BY id LIMIT 1")
        assert rows, "import_seeds imported nothing"
        return int(rows[0][0]), str(rows[0][1])

    def _postgres(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self._admin_url, autocommit=True) as conn:
            conn.execute(statement)


# --- the client side ------------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: Message
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a 3xx is an answer to look at, not to follow


class _FromAddress(urllib.request.HTTPHandler):
    def __init__(self, address: str):
        super().__init__()
        self.address = address

    def http_open(self, request: urllib.request.Request):
        connect = functools.partial(http.client.HTTPConnection, source_address=(self.address, 0))
        return self.do_open(connect, request)


class Client:
    """One visitor: a cookie jar, no proxies, redirects returned rather than followed, every status
    returned rather than raised. Not shared between threads: give each thread its own."""

    def __init__(self, base_url: str, timeout: float = 60.0, source: str | None = None):
        """`source`: the loopback address to connect from (127.0.0.2, …), so that readers differ by address."""
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.cookies = http.cookiejar.CookieJar()
        handlers = [urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()]
        if source:
            handlers.append(_FromAddress(source))
        self.opener = urllib.request.build_opener(*handlers)

    def request(
        self,
        method: str,
        path: str,
        data: Mapping[str, str] | bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Send one request; a dict body is sent form-encoded (UTF-8). Raises OSError only when there was
        no HTTP answer at all (refused, reset, timed out)."""
        body = urllib.parse.urlencode(data).encode() if isinstance(data, Mapping) else data
        request = urllib.request.Request(self.base_url + path, data=body, method=method, headers=dict(headers or {}))
        if isinstance(data, Mapping):
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with self.opener.open(request, timeout=self.timeout) as answer:
                return Response(answer.status, answer.headers, answer.read())
        except urllib.error.HTTPError as error:
            with error:
                return Response(error.code, error.headers, error.read())

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, data: Mapping[str, str] | bytes, headers: Mapping[str, str] | None = None) -> Response:
        return self.request("POST", path, data, headers)

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.cookies if c.name == name), None)

    def post_reply(self, page: str, fields: Mapping[str, str], headers: Mapping[str, str] | None = None) -> Response:
        """Submit the reply form of `page` as a browser would: saying it comes from this site's own page."""
        origin = urllib.parse.urlsplit(self.base_url)._replace(path="").geturl()
        sent = {"Origin": origin, "Sec-Fetch-Site": "same-origin", "Referer": self.base_url + page, **(headers or {})}
        return self.post("/comments/post/", dict(fields), sent)

    def post_trackback(self, slug: str, fields: Mapping[str, str]) -> Response:
        """Send a TrackBack ping (form-encoded url, title, excerpt, blog_name; no CSRF, as the protocol)."""
        return self.post(f"/{slug}/trackback/", fields)


def reply_fields(post_id: int, comment: str, parent: int = 0, **extra: str) -> dict[str, str]:
    """The reply form's fields with a name and an email filled in (`extra` overrides or adds fields)."""
    return {
        "author": "Test Reader",
        "email": "reader@example.com",
        "url": "",
        "comment": comment,
        "comment_post_ID": str(post_id),
        "comment_parent": str(parent),
        **extra,
    }


def trackback_ok(answer: Response) -> bool:
    """True for TrackBack's success answer: HTTP 200 with <error>0</error>."""
    return answer.status == 200 and b"<error>0</error>" in answer.body


class ReplyLoad:
    """Threads posting distinct replies (one visitor each) from `with` until its end, until each has sent
    `per_thread`, or until the server stops answering. With `threaded`, each reply answers the thread's
    previous one, so that a copy missing a parent would show. Afterwards: `acknowledged` (text -> comment id
    from the 302), `refused` ((text, status) answered otherwise), `cut_off` (requests that got no answer).

        with ReplyLoad(server, threads=4) as load:
            load.wait_for(40)
            server.stop(kill=True)
    """

    LOCATION_ID = re.compile(r"#comment-(\d+)$")

    def __init__(self, server: Server, threads: int = 4, per_thread: int = 100, threaded: bool = False):
        self.server = server
        self.post_id, slug = server.first_post()
        self.page = f"/{slug}/"
        self.tag = secrets.token_hex(4)
        self.per_thread = per_thread
        self.threaded = threaded
        self.acknowledged: dict[str, int] = {}
        self.refused: list[tuple[str, int]] = []
        self.cut_off = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)]

    def text(self, n: int, i: int) -> str:
        return f"Load {self.tag} thread {n} reply {i}"

    def _run(self, n: int) -> None:
        client = Client(self.server.url, timeout=30)
        parent = 0
        for i in range(self.per_thread):
            if self.stop.is_set():
                return
            text = self.text(n, i)
            fields = reply_fields(self.post_id, text, parent, author=f"Poster {n}", email=f"poster{n}@example.com")
            try:
                answer = client.post_reply(self.page, fields)
            except OSError:  # refused, reset or cut off: the server is gone
                with self.lock:
                    self.cut_off += 1
                return
            match = self.LOCATION_ID.search(answer.location)
            with self.lock:
                if answer.status == 302 and match:
                    self.acknowledged[text] = int(match.group(1))
                    parent = int(match.group(1)) if self.threaded else 0
                else:
                    self.refused.append((text, answer.status))

    def __enter__(self) -> ReplyLoad:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=120)

    def count(self) -> int:
        with self.lock:
            return len(self.acknowledged)

    def wait_for(self, count: int, timeout: float = 120) -> None:
        """Block until `count` replies were acknowledged; AssertionError if a reply is refused, if every
        thread has stopped, or after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.refused:
                    raise AssertionError(f"replies refused: {self.refused[:5]}")
                if len(self.acknowledged) >= count:
                    return
            if not any(thread.is_alive() for thread in self.threads):
                break
            time.sleep(0.01)
        raise AssertionError(f"only {self.count()} of {count} replies acknowledged")
