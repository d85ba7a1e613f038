"""The live SQLite database holds what the backups hold (commenters' emails and IPs, password hashes), so
its files are the owner's only, as the backups are: mode 0600 whatever the umask.

SQLite creates the database file with 0666 minus the umask (0644 usually) and gives its -wal and -shm files
the database file's own mode. So each new connection sets the database file to 0600, and the -wal and -shm
beside it if they exist (files made before this rule, or by the first connection below). The first
connection to a new database creates its files before this runs; they hold no rows then, only what
journal_mode=WAL writes, so nothing of a reader's is ever world-readable.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from django.db.backends.base.base import BaseDatabaseWrapper

MODE = 0o600
SUFFIXES = ("", "-wal", "-shm")
log = logging.getLogger(__name__)


def database_files(connection: BaseDatabaseWrapper) -> list[Path]:
    """The files of this connection's database; none for another vendor or an in-memory database."""
    if connection.vendor != "sqlite" or connection.is_in_memory_db():
        return []
    name = str(connection.settings_dict["NAME"])
    return [Path(name + suffix) for suffix in SUFFIXES]


def make_private(sender: object, connection: BaseDatabaseWrapper, **kwargs: object) -> None:
    """`connection_created` receiver."""
    for path in database_files(connection):
        try:
            if stat.S_IMODE(path.stat().st_mode) != MODE:
                os.chmod(path, MODE)
        except FileNotFoundError:
            continue
        except OSError as exc:  # e.g. another user's file: the site still works, the operator is told
            log.warning("cannot make %s private (mode 0600): %s", path, exc)
