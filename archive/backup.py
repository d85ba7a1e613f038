"""Backups taken while the site serves, and restores: the logic behind `manage.py archive_backup PATH` and
`manage.py archive_restore PATH`.

Two formats:

- **sqlite** (the default on SQLite): a copy of the whole database file made with SQLite's online backup
  API (`sqlite3.Connection.backup`) in one step, so it is one consistent snapshot; WAL lets the site go on
  reading and writing meanwhile. The copy is switched out of WAL mode so that it is one self-contained file.
  Restored with the same API into the live database file, which readers then see at once.
- **json** (the default on PostgreSQL, and for a PATH ending in `.json`): a Django fixture of the archive
  (posts with their original bytes, responses) and of the accounts (users, groups), dumped with `dumpdata`
  and restored with `loaddata`, so it moves between SQLite and PostgreSQL too. On PostgreSQL it is dumped in
  one READ ONLY, REPEATABLE READ transaction: one snapshot, and no lock that writers wait on. On SQLite the
  dump holds the write lock (the site's transactions are IMMEDIATE) for the second or so it takes; writers
  queue on the busy timeout meanwhile. Datetimes keep their microseconds (Django's JSON encoder would cut
  them to milliseconds and so change every response's time).

Why not pg_dump on PostgreSQL: it must be at least the server's major version, which a web host's client
packages often are not; its output restores only into PostgreSQL, through tools and rights beyond the site's
own; and a fixture restores through the same Django code on both databases, which the test suite runs on
both. The archive is small, so the fixture's size and speed do not matter. Not in the JSON form: sessions and
the admin's log, which are disposable, and content types and permissions, which migrations recreate.

Every backup carries a manifest (the `archive_backup_manifest` table of the SQLite form; the JSON form is
`{"archive_backup": manifest, "objects": fixture}`), and a restore refuses any file without one: a restore
replaces every post and response, so a fixture, an empty list or some other database given by mistake must
not wipe the archive. What a backup holds is read (`inspect`) before anything is replaced, so the command
can say what it would replace and ask.

A backup is written to a temporary file beside PATH and renamed into place, so PATH is never half written;
it is readable by its owner only (it holds commenters' emails and IPs, and password hashes).
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import os
import sqlite3
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.core import serializers
from django.core.management import CommandError, call_command
from django.core.serializers import json as django_json
from django.core.serializers.base import DeserializationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.utils import timezone

from . import pagecache
from .models import Comment, Post

SQLITE_MAGIC = b"SQLite format 3\x00"
FORMATS = ("sqlite", "json")
JSON_FORMAT = "archive-json"  # registered below: Django's JSON with full-precision datetimes
FIXTURE_LABELS = ("archive", "auth.group", "auth.user")
MARKER = "archive_backup"  # the JSON form's manifest key
MANIFEST_TABLE = "archive_backup_manifest"  # the SQLite form's manifest: (name, value) rows
MANIFEST_VERSION = "1"


class BackupError(Exception):
    """The backup or restore could not be done; nothing was changed."""


@dataclass(frozen=True)
class Summary:
    path: Path
    format: str
    posts: int
    comments: int
    taken_at: str = ""  # when the backup was taken, for a summary of a backup file

    def __str__(self) -> str:
        taken = f", taken {self.taken_at}" if self.taken_at else ""
        return f"{self.posts} post(s) and {self.comments} response(s), {self.format} format{taken}, {self.path}"


def manifest(using: str) -> dict[str, str]:
    return {
        "version": MANIFEST_VERSION,
        "taken_at": timezone.now().isoformat(timespec="seconds"),
        "database": connections[using].vendor,
    }


def checked_manifest(found: object, path: Path) -> dict:
    """The manifest, or BackupError for a file that archive_backup did not write."""
    if not isinstance(found, dict):
        raise BackupError(f"{path} is not a backup written by archive_backup (it has no manifest)")
    if found.get("version") != MANIFEST_VERSION:
        raise BackupError(f"{path} is a backup of manifest version {found.get('version')!r}, not {MANIFEST_VERSION}")
    return found


# --- the JSON format --------------------------------------------------------------------------------------


class Encoder(DjangoJSONEncoder):
    """DjangoJSONEncoder, but a datetime keeps its microseconds (it writes milliseconds only)."""

    def default(self, o: object) -> object:
        if isinstance(o, datetime.datetime | datetime.time):
            return o.isoformat()
        return super().default(o)


class Serializer(django_json.Serializer):
    def _init_options(self) -> None:
        super()._init_options()
        self.json_kwargs["cls"] = Encoder


Deserializer = django_json.Deserializer  # the fixture in the envelope is plain Django JSON, as `loaddata` reads it


def register_format() -> None:
    if JSON_FORMAT not in serializers.get_serializer_formats():
        serializers.register_serializer(JSON_FORMAT, __name__)


# --- backup -----------------------------------------------------------------------------------------------


def default_format(path: Path, using: str = DEFAULT_DB_ALIAS) -> str:
    if connections[using].vendor == "sqlite" and not path.name.lower().endswith(".json"):
        return "sqlite"
    return "json"


def backup(path: Path, fmt: str | None = None, using: str = DEFAULT_DB_ALIAS) -> Summary:
    """Write a consistent copy of the database to `path` (replaced if it exists)."""
    fmt = fmt or default_format(path, using)
    connection = connections[using]
    if fmt not in FORMATS:
        raise BackupError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "sqlite" and connection.vendor != "sqlite":
        raise BackupError(f"the sqlite format needs an SQLite database; this one is {connection.vendor}: use json")
    path = path.resolve()
    if not path.parent.is_dir():
        raise BackupError(f"no such directory: {path.parent}")
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    partial = Path(name)
    try:
        if fmt == "sqlite":
            posts, comments = backup_sqlite(partial, using)
        else:
            posts, comments = backup_json(partial, using)
        os.chmod(partial, 0o600)
        with open(partial, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return Summary(path, fmt, posts, comments)


def counts(cursor: sqlite3.Cursor | object) -> tuple[int, int]:
    """(posts, responses) as this cursor's connection sees them."""
    cursor.execute("SELECT count(*) FROM archive_post")
    posts = cursor.fetchone()[0]
    cursor.execute("SELECT count(*) FROM archive_comment")
    return posts, cursor.fetchone()[0]


def backup_sqlite(target: Path, using: str) -> tuple[int, int]:
    connection = connections[using]
    connection.ensure_connection()
    with contextlib.closing(sqlite3.connect(target)) as copy:
        connection.connection.backup(copy)  # pages=-1: every page in one step, one snapshot
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        copy.execute("DROP TABLE IF EXISTS archive_backup_manifest")
        copy.execute("CREATE TABLE archive_backup_manifest (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        copy.executemany("INSERT INTO archive_backup_manifest VALUES (?, ?)", manifest(using).items())
        copy.commit()
        verdict = copy.execute("PRAGMA integrity_check").fetchall()
        if verdict != [("ok",)]:
            raise BackupError(f"the copy failed its integrity check: {verdict[:5]}")
        return counts(copy.cursor())


def backup_json(target: Path, using: str) -> tuple[int, int]:
    register_format()
    connection = connections[using]
    connection.ensure_connection()  # so that the transaction's first statement is ours
    with transaction.atomic(using=using):
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            found = counts(cursor)
        with open(target, "w", encoding="utf-8") as out:
            out.write(f'{{"{MARKER}": {json.dumps(manifest(using))},\n"objects": ')
            call_command(
                "dumpdata",
                *FIXTURE_LABELS,
                format=JSON_FORMAT,
                indent=1,
                natural_foreign=True,
                natural_primary=True,
                stdout=out,
                database=using,
                verbosity=0,
            )
            out.write("}\n")
    return found


# --- restore ----------------------------------------------------------------------------------------------


def detect_format(path: Path) -> str:
    if not path.is_file():
        raise BackupError(f"no such file: {path}")
    with open(path, "rb") as fh:
        return "sqlite" if fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC else "json"


def current(using: str = DEFAULT_DB_ALIAS) -> tuple[int, int]:
    """(posts, responses) in the database now: what a restore would replace."""
    with connections[using].cursor() as cursor:
        return counts(cursor)


def inspect(path: Path, using: str = DEFAULT_DB_ALIAS) -> Summary:
    """What the backup at `path` holds, read and checked as a restore would, changing nothing."""
    if detect_format(path) == "sqlite":
        with sqlite_backup(path, using) as (_, found):
            return found
    return read_json(path)[0]


def restore(path: Path, using: str = DEFAULT_DB_ALIAS) -> Summary:
    """Make the database hold what the backup at `path` holds, then drop every cached page."""
    fmt = detect_format(path)
    if fmt == "sqlite":
        posts, comments = restore_sqlite(path, using)
    else:
        posts, comments = restore_json(path, using)
    pagecache.invalidate()
    return Summary(path, fmt, posts, comments)


@contextlib.contextmanager
def sqlite_backup(path: Path, using: str) -> Iterator[tuple[sqlite3.Connection, Summary]]:
    """The SQLite backup at `path`, open read-only, checked whole and written by archive_backup."""
    if connections[using].vendor != "sqlite":
        raise BackupError(
            f"{path} is an SQLite database file, and this database is {connections[using].vendor}: "
            "restore it into an SQLite site, then move it with `archive_backup --format json`"
        )
    source_uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(source_uri, uri=True)) as source:
            check_whole(source, path)
            tables = {row[0] for row in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {Post._meta.db_table, Comment._meta.db_table} <= tables:
                raise BackupError(f"{path} is an SQLite database, but not one of this archive")
            found = None
            if MANIFEST_TABLE in tables:
                found = dict(source.execute("SELECT name, value FROM archive_backup_manifest"))
            taken_at = checked_manifest(found, path).get("taken_at", "")
            yield source, Summary(path, "sqlite", *counts(source.cursor()), taken_at=taken_at)
    except sqlite3.Error as exc:  # cut short or damaged where SQLite itself notices; the copy is one step
        raise BackupError(f"{path} is not a whole SQLite database ({exc})") from exc


def restore_sqlite(path: Path, using: str) -> tuple[int, int]:
    connection = connections[using]
    with sqlite_backup(path, using) as (source, _):
        connection.ensure_connection()
        if connection.in_atomic_block:
            raise BackupError("cannot restore inside a transaction")
        source.backup(connection.connection)  # one step: other connections see the old or the new, whole
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS archive_backup_manifest")  # the live database is no backup
        cursor.execute("PRAGMA integrity_check")
        verdict = cursor.fetchall()
        if verdict != [("ok",)]:
            raise BackupError(f"the restored database failed its integrity check: {verdict[:5]}")
        return counts(cursor)


def check_whole(source: sqlite3.Connection, path: Path) -> None:
    """Refuse a file cut short (SQLite reads missing bytes at the end as zeros, so its integrity check may
    pass one that lost its last page's tail) or damaged."""
    expected = source.execute("PRAGMA page_size").fetchone()[0] * source.execute("PRAGMA page_count").fetchone()[0]
    size = path.stat().st_size
    if size != expected:
        raise BackupError(f"{path} is cut short: {size} bytes of the {expected} its header names")
    verdict = source.execute("PRAGMA integrity_check").fetchall()
    if verdict != [("ok",)]:
        raise BackupError(f"{path} failed its integrity check: {verdict[:5]}")


def read_json(path: Path) -> tuple[Summary, list]:
    """A JSON backup's summary and fixture objects; BackupError for any other JSON (a bare fixture too)."""
    try:
        with open(path, encoding="utf-8") as fh:
            found = json.load(fh)
    except ValueError as exc:  # not UTF-8, not JSON
        raise BackupError(f"{path} is neither an SQLite database nor JSON ({exc})") from exc
    if not isinstance(found, dict) or not isinstance(found.get("objects"), list):
        raise BackupError(f"{path} is not a backup written by archive_backup (it has no manifest)")
    taken_at = checked_manifest(found.get(MARKER), path).get("taken_at", "")
    objects = found["objects"]
    models = Counter(item.get("model") for item in objects if isinstance(item, dict))
    return Summary(path, "json", models["archive.post"], models["archive.comment"], taken_at), objects


def restore_json(path: Path, using: str) -> tuple[int, int]:
    """Replace every post and response by the backup's (ids kept: they are in permalinks); accounts in the
    backup are added or updated by username. One transaction: on any error nothing changes."""
    objects = read_json(path)[1]
    connection = connections[using]
    try:
        with transaction.atomic(using=using):
            with connection.cursor() as cursor:
                # Raw deletes: one statement each, no per-row signals (the cache is invalidated once, at the end).
                cursor.execute("DELETE FROM archive_comment")
                cursor.execute("DELETE FROM archive_post")
            with swapped_stdin(io.StringIO(json.dumps(objects))):
                call_command("loaddata", "-", format="json", database=using, verbosity=0)
            with connection.cursor() as cursor:
                return counts(cursor)
    except (DatabaseError, DeserializationError, CommandError) as exc:
        raise BackupError(f"{path} could not be loaded: {exc}") from exc


@contextlib.contextmanager
def swapped_stdin(stream: io.TextIOBase):
    """`loaddata -` reads sys.stdin: the fixture, taken out of the backup's envelope, is given to it that way
    (which also spares loaddata's file-name rules, which take any dot in a folder's name for a format)."""
    saved = sys.stdin
    sys.stdin = stream
    try:
        yield
    finally:
        sys.stdin = saved
