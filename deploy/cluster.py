"""`make cluster`: the several-server deployment, every part a real process on this machine's loopback.

    PostgreSQL   127.0.0.1:$PORT+3   the one database (and the task queue: django-tasks-db)
    Redis        127.0.0.1:$PORT+4   the one cache: page-cache version and pages, flood/login/ping counts
    app server   127.0.0.1:$PORT+1   granian, as `make run` starts it
    app server   127.0.0.1:$PORT+2
    task worker  ×2                  `manage.py task_worker`, both on the shared queue
    nginx        127.0.0.1:$PORT     deploy/nginx's configuration, balancing between the two app servers

It is the shape to copy onto several machines: each app machine runs one app server, one worker and its own
nginx with deploy/nginx's files; all of them point at the same PostgreSQL and Redis with the same settings
(README, "Several servers"). nginx keeps no pages of its own here: with a shared cache the app writes no page
files (archive/pagecache.py), because another machine's nginx could not learn that one went stale. Every
request reaches an app server, which answers a stored page from its memory after one Redis read of the
version, so a reply posted on any machine is on every machine's next page.

PostgreSQL and Redis start empty in a folder of their own (removed at exit), and the data is the seeds, as
`make run` loads them. A process that dies is started again after CLUSTER_RESTART_SECONDS, as a service
manager would. Ctrl-C (SIGINT) or SIGTERM stops everything, front to back, and waits for every process; the
children also get SIGTERM if this launcher itself is killed. CLUSTER_STATE names a JSON file where the
ports, the database URL and every process's pid are kept up to date (tests/test_cluster.py reads it).
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PYTHON = sys.executable
PR_SET_PDEATHSIG = 1
LIBC = ctypes.CDLL(None, use_errno=True)  # loaded here: a child between fork and exec must not load libraries


def die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the launcher dies, however it dies."""
    LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Service:
    """One supervised process: started, restarted when it dies, stopped with `stop_signal`."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None  # PostgreSQL refuses to run as root
    stop_signal: int = signal.SIGTERM
    proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.argv, cwd=REPO, env={**os.environ, **self.env}, user=self.user,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=die_with_parent,
        )  # fmt: skip
        threading.Thread(target=self.relay, args=(self.proc,), daemon=True).start()

    def relay(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            sys.stdout.write(f"{self.name:9} | {line.decode(errors='replace')}")
            sys.stdout.flush()

    def exited(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def stop(self, timeout: float = 15) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, self.stop_signal)
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass


def say(text: str) -> None:
    print(f"cluster   | {text}", flush=True)


def wait_for(what: str, check, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise SystemExit(f"cluster: {what} did not come up within {timeout:.0f} s")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


class Cluster:
    def __init__(self, port: int, folder: Path, restart_seconds: float):
        self.port, self.folder, self.restart_seconds = port, folder, restart_seconds
        self.pg_port, self.redis_port = port + 3, port + 4
        self.app_ports = [port + 1, port + 2]
        self.pg_user = "postgres" if os.geteuid() == 0 else None
        password = secrets.token_urlsafe(16)
        self.password_file = folder / "pgpassword"
        self.password_file.write_text(password)
        self.password_file.chmod(0o600)
        self.database_url = f"postgres://archive:{password}@127.0.0.1:{self.pg_port}/archive"
        # What every app server and worker must share (README, "Several servers"): one secret key, one
        # database, one cache, the same hosts, the proxy in front trusted.
        self.env = {
            "DATABASE_URL": self.database_url,
            "CACHE_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "ARCHIVE_SERVERS": "2",
            "ARCHIVE_TRUSTED_PROXIES": "127.0.0.1/32",
            "ARCHIVE_PAGE_DIR": str(folder / "pages"),
        }
        self.services: list[Service] = []
        self.stopping = False

    # --- The parts ------------------------------------------------------------------------------------

    def postgres(self) -> Service:
        data = self.folder / "postgres"
        data.mkdir()
        if self.pg_user:
            shutil.chown(data, self.pg_user, self.pg_user)
            shutil.chown(self.password_file, self.pg_user, self.pg_user)
        subprocess.run(
            [PG_BIN / "initdb", "-D", data, "-U", "archive", f"--pwfile={self.password_file}",
             "--auth-host=scram-sha-256", "--auth-local=trust", "--encoding=UTF8", "--locale=C.UTF-8"],
            user=self.pg_user, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        return Service(
            "postgres",
            [str(PG_BIN / "postgres"), "-D", str(data), "-p", str(self.pg_port), "-k", str(data),
             "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=100"],
            user=self.pg_user, stop_signal=signal.SIGINT,  # "fast" shutdown: clients are cut off
        )  # fmt: skip

    def redis(self) -> Service:
        return Service(
            "redis",
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)],
        )  # fmt: skip

    def app_server(self, number: int, port: int) -> Service:
        return Service(
            f"app{number}",
            [PYTHON, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port),
             "--workers", os.environ.get("WORKERS", "1"), "--blocking-threads", "1", "--log-level", "warning",
             "archive.wsgi:application"],
            env=self.env,
        )  # fmt: skip

    def worker(self, number: int) -> Service:
        return Service(f"worker{number}", [PYTHON, "manage.py", "task_worker", "--verbosity", "1"], env=self.env)

    def nginx(self) -> Service:
        conf = self.folder / "nginx.conf"
        servers = "".join(f"    server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;\n" for port in self.app_ports)
        temp_paths = "".join(f"  {kind}_temp_path {self.folder / kind};\n" for kind in ("client_body", "proxy"))
        deploy = REPO / "deploy" / "nginx"
        conf.write_text(
            ("user root;\n" if os.geteuid() == 0 else "")  # workers as nobody could not write the temp paths
            + f"daemon off; worker_processes 2; pid {self.folder / 'nginx.pid'};\n"
            f"error_log stderr warn;\nevents {{ worker_connections 1024; }}\n"
            f"http {{\n  access_log off; sendfile on;\n{temp_paths}"
            f"  include {deploy / 'archive-http.conf'};\n"
            f"  upstream archive_app {{\n{servers}    keepalive 32;\n  }}\n"
            f"  server {{\n    listen 127.0.0.1:{self.port};\n    set $archive_pages {self.folder / 'pages'};\n"
            f"    include {deploy / 'archive-server.conf'};\n  }}\n}}\n"
        )
        return Service("nginx", [shutil.which("nginx") or "/usr/sbin/nginx", "-c", str(conf), "-e", "stderr"])

    # --- Running ----------------------------------------------------------------------------------------

    def run_service(self, service: Service) -> Service:
        service.start()
        self.services.append(service)
        return service

    def manage(self, *args: str) -> None:
        subprocess.run([PYTHON, "manage.py", *args], cwd=REPO, env={**os.environ, **self.env}, check=True)

    def up(self) -> None:
        self.run_service(self.postgres())
        wait_for("PostgreSQL", lambda: subprocess.run(
            [PG_BIN / "pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.pg_port)]).returncode == 0)
        subprocess.run(
            [PG_BIN / "createdb", "-h", str(self.folder / "postgres"), "-p", str(self.pg_port), "-U", "archive",
             "archive"], user=self.pg_user, check=True,
        )  # fmt: skip
        self.run_service(self.redis())
        say("PostgreSQL and Redis are up; migrating and loading the seeds")
        self.manage("migrate", "--noinput", "--verbosity", "0")
        self.manage("import_seeds")
        for number, port in enumerate(self.app_ports, start=1):
            self.run_service(self.app_server(number, port))
        for number in (1, 2):
            self.run_service(self.worker(number))
        for port in self.app_ports:
            wait_for(f"the app server on {port}", lambda port=port: answers(f"http://127.0.0.1:{port}/healthz"))
        self.run_service(self.nginx())
        wait_for("nginx", lambda: answers(f"http://127.0.0.1:{self.port}/healthz"))
        self.write_state()
        say(f"ready: http://127.0.0.1:{self.port}/ (nginx) before app servers on :{self.app_ports[0]} and "
            f":{self.app_ports[1]}, two task workers, PostgreSQL on :{self.pg_port}, Redis on :{self.redis_port}. "
            "Ctrl-C stops everything.")  # fmt: skip

    def write_state(self) -> None:
        path = os.environ.get("CLUSTER_STATE")
        if not path:
            return
        state = {
            "port": self.port, "app_ports": self.app_ports, "pg_port": self.pg_port, "redis_port": self.redis_port,
            "database_url": self.database_url, "env": self.env, "folder": str(self.folder),
            "pids": {service.name: service.proc.pid for service in self.services if service.proc},
        }  # fmt: skip
        temporary = Path(f"{path}.tmp")
        temporary.write_text(json.dumps(state, indent=2))
        temporary.chmod(0o600)  # it holds the database password and the secret key
        temporary.replace(path)

    def supervise(self) -> None:
        """Start again whatever died, as a service manager would, until told to stop."""
        died: dict[str, float] = {}
        while not self.stopping:
            for service in self.services:
                code = service.exited()
                if code is None or self.stopping:
                    continue
                if service.name not in died:
                    say(f"{service.name} exited ({code}); starting it again in {self.restart_seconds:g} s")
                    died[service.name] = time.monotonic() + self.restart_seconds
                elif time.monotonic() >= died[service.name]:
                    del died[service.name]
                    service.start()
                    self.write_state()
            time.sleep(0.1)

    def down(self) -> None:
        self.stopping = True
        for service in reversed(self.services):  # nginx first, PostgreSQL last
            service.stop()
        say("stopped")


def main() -> None:
    port = int(os.environ.get("PORT", "8000"))
    folder = Path(tempfile.mkdtemp(prefix="archive-cluster-"))
    folder.chmod(0o755)  # PostgreSQL, as its own user, must reach its folder inside
    cluster = Cluster(port, folder, float(os.environ.get("CLUSTER_RESTART_SECONDS", "1")))

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        cluster.up()
        cluster.supervise()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the stopping short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        cluster.down()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
