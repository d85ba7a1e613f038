"""`manage.py task_worker`: django-tasks-db's `db_worker`, plus recovery of tasks whose worker died.

A worker killed mid-task (SIGKILL, OOM, power) leaves its task marked RUNNING, and db_worker never looks
at it again. So before it starts, this worker puts such tasks back in the queue: those of a dead worker on
this machine (worker ids here are `host:pid:random`, so a dead pid is proof), and those of any worker
that have been running longer than ARCHIVE_TASK_LEASE_SECONDS (no task of ours runs that long: fetches
have a 10 s deadline). A task that killed its worker MAX_CLAIMS times is failed instead, so one poisoned
task cannot crash-loop the queue. All other options are db_worker's (see --help).
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_tasks.base import TaskResultStatus
from django_tasks_db.management.commands import db_worker
from django_tasks_db.models import DBTaskResult

MAX_CLAIMS = 5


def worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{get_random_string(8)}"


def pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # we are only starting: nothing running is ours yet
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def orphaned(result: DBTaskResult, lease_start) -> bool:
    last = (result.worker_ids or [""])[-1]
    host, _, rest = last.partition(":")
    pid = rest.partition(":")[0]
    if host == socket.gethostname()[:40] and pid.isdigit():
        return not pid_alive(int(pid))
    return result.started_at is not None and result.started_at < lease_start


def recover() -> tuple[int, int]:
    """Requeue the tasks of dead workers; fail those that died too often. Returns (requeued, failed)."""
    lease_start = timezone.now() - timedelta(seconds=settings.ARCHIVE_TASK_LEASE_SECONDS)
    requeued = failed = 0
    for result in DBTaskResult.objects.running():
        if not orphaned(result, lease_start):
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
    return requeued, failed


class Command(db_worker.Command):
    help = "Run the background task worker (db_worker), first requeueing tasks whose worker died."

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(worker_id=worker_id())

    def handle(self, *args, **options) -> None:
        requeued, failed = recover()
        if requeued or failed:
            self.stdout.write(f"recovered tasks of dead workers: {requeued} requeued, {failed} failed")
        super().handle(*args, **options)
