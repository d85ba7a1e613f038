"""`manage.py task_worker`: django-tasks-db's `db_worker`, made to outlive its database and its peers.

A worker killed mid-task (SIGKILL, OOM, power) leaves its task marked RUNNING, and db_worker never looks
at it again. So this worker puts such tasks back in the queue when it starts, and every
ARCHIVE_TASK_RECOVER_SECONDS while it runs (a thread of its own), so that a peer's death is noticed by the
workers still alive, not only by the next one to start: those of a dead worker on this machine (worker ids
here are `host:pid:random`, so a dead pid is proof), and those of any worker that have been running longer
than ARCHIVE_TASK_LEASE_SECONDS (no task of ours runs that long: fetches have a 10 s deadline). A task
that killed its worker MAX_CLAIMS times is failed instead, so one poisoned task cannot crash-loop the queue.

db_worker stops at the first database error that is not a lock. Here the database going away for a moment
(a PostgreSQL restart, a failover) is waited out instead: the worker sleeps, reconnects and goes on, and a
task it was running when the connection broke is requeued. All other options are db_worker's (see --help).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_tasks.base import TaskResultStatus
from django_tasks_db.management.commands import db_worker
from django_tasks_db.models import DBTaskResult

MAX_CLAIMS = 5
OUTAGE_WAIT_SECONDS = 1  # between attempts to reach a database that went away

logger = logging.getLogger(__name__)


def worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{get_random_string(8)}"


def pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # asked by this process: a task under its pid is one it no longer runs (see `recover`)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def orphaned(result: DBTaskResult, lease_start, running: str | None) -> bool:
    last = (result.worker_ids or [""])[-1]
    if last == running:
        return False
    host, _, rest = last.partition(":")
    pid = rest.partition(":")[0]
    if host == socket.gethostname()[:40] and pid.isdigit():
        return not pid_alive(int(pid))
    return result.started_at is not None and result.started_at < lease_start


def recover(running: str | None = None) -> tuple[int, int]:
    """Requeue the tasks of dead workers; fail those that died too often. Returns (requeued, failed).

    `running` names the worker whose loop is alive in this process: its task is not an orphan. Without it,
    a task under this process's pid counts as abandoned (the worker is starting, or its loop lost the
    database mid-task)."""
    lease_start = timezone.now() - timedelta(seconds=settings.ARCHIVE_TASK_LEASE_SECONDS)
    requeued = failed = 0
    for result in DBTaskResult.objects.running():
        if not orphaned(result, lease_start, running):
            continue
        with transaction.atomic():
            still = DBTaskResult.objects.filter(pk=result.pk, status=TaskResultStatus.RUNNING)
            if len(result.worker_ids) >= MAX_CLAIMS:
                failed += still.update(
                    status=TaskResultStatus.FAILED, finished_at=timezone.now(),
                    exception_class_path="archive.management.commands.task_worker.WorkerDied",
                    traceback=f"The worker died {len(result.worker_ids)} times running this task.",
                )  # fmt: skip
            else:
                requeued += still.update(status=TaskResultStatus.READY)
    if requeued or failed:
        logger.warning("recovered tasks of dead workers: %d requeued, %d failed", requeued, failed)
    return requeued, failed


def drop_connections() -> None:
    """Forget this thread's database connections, broken ones included, so the next query reconnects."""
    for connection in connections.all(initialized_only=True):
        with contextlib.suppress(DatabaseError):
            connection.close()


def recover_every(seconds: float, running: str) -> None:
    """The recovery thread: a peer that died mid-task has its task requeued within `seconds`."""
    while True:
        time.sleep(seconds)
        try:
            recover(running)
        except DatabaseError as exc:  # the main loop waits the outage out; here the next round retries
            logger.info("task recovery skipped: database unavailable (%s)", type(exc).__name__)
        finally:
            drop_connections()


class Command(db_worker.Command):
    help = "Run the background task worker (db_worker), requeueing tasks whose worker died."

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(worker_id=worker_id())

    def handle(self, *args, **options) -> None:
        if not options["batch"] and settings.ARCHIVE_TASK_RECOVER_SECONDS > 0:
            threading.Thread(
                target=recover_every, args=(settings.ARCHIVE_TASK_RECOVER_SECONDS, options["worker_id"]),
                name="task-recovery", daemon=True,
            ).start()  # fmt: skip
        while True:
            try:
                recover()
                super().handle(*args, **options)
                return
            except DatabaseError as exc:
                logger.warning("database unavailable (%s); trying again", type(exc).__name__)
                drop_connections()
                time.sleep(OUTAGE_WAIT_SECONDS)
