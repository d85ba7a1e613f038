"""The live SQLite database and its -wal and -shm files are the owner's only (0600), like the backups,
whatever the umask: they hold the same emails, IPs and password hashes."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Run in a manage.py shell that keeps its connection open, so that the -wal and -shm files exist.
SHOW_MODES = """
import os, stat
from django.db import connection
from archive.models import Post
Post.objects.count()
name = connection.settings_dict["NAME"]
print(" ".join(oct(stat.S_IMODE(os.stat(name + s).st_mode)) for s in ("", "-wal", "-shm")))
"""


def manage(database: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "CACHE_URL": "locmem://",
           "DJANGO_SECRET_KEY": "test-only-key-" + "x" * 40}  # fmt: skip
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, umask=0o022
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_database_and_its_wal_files_are_owner_only(tmp_path: Path) -> None:
    database = tmp_path / "db.sqlite3"
    migrated = manage(database, "migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    assert mode(database) == 0o600
    shown = manage(database, "shell", "-c", SHOW_MODES)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[-1].split() == ["0o600"] * 3  # after the shell's own greeting


def test_a_database_made_world_readable_before_is_made_owner_only(tmp_path: Path) -> None:
    database = tmp_path / "db.sqlite3"
    with sqlite3.connect(database) as made:  # as SQLite makes it under umask 022: 0644
        made.execute("PRAGMA journal_mode=WAL")
    os.chmod(database, 0o644)
    migrated = manage(database, "migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    assert mode(database) == 0o600
