"""Backups: `archive_backup` while the site serves, `archive_restore` into a fresh database, and nothing
different afterwards — every post (its original bytes and their SHA-256 included) and every response, field
by field, the accounts, the ids that permalinks name, and the rules the database enforces.

Both formats run on SQLite; on PostgreSQL the JSON form (the SQLite file form must be refused there).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pty
import re
import secrets
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from archive.models import Comment, Post

from .server import REPO, Client, ReplyLoad, Server, reply_fields, trackback_ok, uses_postgres

pytestmark = pytest.mark.server

ON_POSTGRES = uses_postgres(os.environ.get("DATABASE_URL"))
FORMATS = ["json"] if ON_POSTGRES else ["sqlite", "json"]
SERVER_ENV = {
    "ARCHIVE_COMMENT_MODERATION": "open",
    "ARCHIVE_COMMENT_FLOOD_SECONDS": "0",
    "ARCHIVE_COMMENTS_PER_PAGE": "1000",
}
SEED = Path(settings.BASE_DIR) / "seeds" / "000_326f7f888e732a1a.txt"
COMMENT_ID = re.compile(r'<li id="comment-(\d+)"')
LOCATION_ID = re.compile(r"#comment-(\d+)$")
MODERATOR = {"DJANGO_SUPERUSER_PASSWORD": "a long moderator passphrase 6"}


def table(server: Server, model: type[Post] | type[Comment]) -> dict[int, dict]:
    """Every row of the model's table, every column, keyed by id, as the database returns them."""
    columns = [field.column for field in model._meta.concrete_fields]
    rows = server.query(f"SELECT {', '.join(columns)} FROM {model._meta.db_table} ORDER BY id")
    return {row[0]: dict(zip(columns, row, strict=True)) for row in rows}


def accounts(server: Server) -> list[tuple]:
    return server.query("SELECT username, email, password, is_staff, is_superuser FROM auth_user ORDER BY username")


def assert_same_rows(expected: dict[int, dict], actual: dict[int, dict], what: str) -> None:
    assert actual.keys() == expected.keys(), f"{what}: ids differ"
    for pk, row in expected.items():
        for column, value in row.items():
            assert actual[pk][column] == value, f"{what} {pk}: {column} is {actual[pk][column]!r}, not {value!r}"


def comment_id(answer: object) -> int:
    match = LOCATION_ID.search(answer.location)
    assert answer.status == 302 and match, (answer.status, answer.text[:300])
    return int(match.group(1))


@pytest.fixture
def source() -> Iterator[Server]:
    with Server(workers=2, env=SERVER_ENV) as running:
        yield running


@pytest.fixture
def target() -> Iterator[Server]:
    """A fresh database (migrated, the seed imported, as `make run` leaves it) with its server running."""
    with Server(workers=1, env=SERVER_ENV) as running:
        yield running


@pytest.fixture
def site() -> Iterator[Server]:
    """A database as `make run` leaves it (migrated, the seed imported), no server: for manage.py alone."""
    server = Server(workers=1, env=SERVER_ENV)
    try:
        server.prepare()
        yield server
    finally:
        server.close()


def fill(server: Server) -> None:
    """Responses of every kind and state the archive keeps, through the real form and endpoint."""
    post_id, slug = server.first_post()
    page = f"/{slug}/"
    visitor = Client(server.url)
    first = comment_id(visitor.post_reply(page, reply_fields(post_id, "First! *Markdown* and `code`.")))
    child = comment_id(visitor.post_reply(page, reply_fields(post_id, "A reply to the first", first)))
    comment_id(visitor.post_reply(page, reply_fields(post_id, "Deeper still", child, author="Zoë Ünïcode 🦉")))
    two_links = "See https://example.com/a and https://example.com/b"
    comment_id(visitor.post_reply(page, reply_fields(post_id, two_links)))  # held: too many links
    comment_id(visitor.post_reply(page, reply_fields(post_id, "Bot text", hp_homepage="http://spam.example/")))
    trashed = comment_id(visitor.post_reply(page, reply_fields(post_id, "Said, binned, said again")))
    server.query("UPDATE archive_comment SET status = 'trash' WHERE id = %s", [trashed])
    comment_id(visitor.post_reply(page, reply_fields(post_id, "Said, binned, said again")))  # allowed again
    ping = {"url": "http://other.example.com/post/", "title": "Über", "excerpt": "An excerpt…", "blog_name": "Other"}
    assert trackback_ok(visitor.post_trackback(slug, ping))
    statuses = {row[0] for row in server.query("SELECT DISTINCT status FROM archive_comment")}
    assert statuses == {"approved", "pending", "spam", "trash"}
    made = server.manage(
        "createsuperuser", "--noinput", "--username", "moderator", "--email", "mod@example.com", env=MODERATOR
    )
    assert made.returncode == 0, made.stderr


@pytest.mark.parametrize("fmt", FORMATS)
def test_restore_into_a_fresh_database_gives_back_everything(source: Server, target: Server, fmt: str) -> None:
    fill(source)
    path = source.tmp / f"backup.{fmt}"
    made = source.manage("archive_backup", str(path), "--format", fmt, check=False)
    assert made.returncode == 0, made.stderr
    assert f"1 post(s) and {len(table(source, Comment))} response(s)" in made.stdout
    assert path.stat().st_mode & 0o077 == 0, "a backup holds emails and password hashes: owner only"

    post_id, slug = target.first_post()
    reader = Client(target.url)
    assert "No Responses yet" in reader.get(f"/{slug}/").text  # now in the target's page cache
    restored = target.manage("archive_restore", str(path), "--yes", check=False)
    assert restored.returncode == 0, restored.stderr

    posts = table(source, Post)
    assert_same_rows(posts, table(target, Post), "post")
    assert_same_rows(table(source, Comment), table(target, Comment), "comment")
    assert accounts(target) == accounts(source) != []
    (post,) = table(target, Post).values()
    original = bytes(post["original"])
    assert original == SEED.read_bytes()
    assert hashlib.sha256(original).hexdigest() == post["sha256"] == hashlib.sha256(SEED.read_bytes()).hexdigest()
    if target.sqlite_path is not None:
        assert target.query("PRAGMA integrity_check") == [("ok",)]
        assert target.query("PRAGMA foreign_key_check") == []

    # The running server shows the restored responses at once (its cached page was dropped) ...
    html = reader.get(f"/{slug}/").text
    public = {pk for pk, row in table(source, Comment).items() if row["status"] == "approved"}
    assert {int(pk) for pk in COMMENT_ID.findall(html)} == public
    assert "Zoë Ünïcode 🦉" in html
    # ... takes new ones after the restored ids, and still refuses a duplicate in the database.
    new_id = comment_id(reader.post_reply(f"/{slug}/", reply_fields(target.first_post()[0], "After the restore")))
    assert new_id > max(table(source, Comment))
    again = reader.post_reply(f"/{slug}/", reply_fields(post_id, "First! *Markdown* and `code`."))
    assert again.status == 409


def test_backup_while_the_server_takes_posts(source: Server, target: Server) -> None:
    """Backups taken in the middle of a posting load (threaded replies, so a torn copy would hold replies
    whose parents are missing) succeed without troubling a single request, and each restores to a copy
    that holds every reply acknowledged before it began, each exactly as the live database has it."""
    fmt = FORMATS[0]
    taken = []
    with ReplyLoad(source, threads=4, per_thread=150, threaded=True) as load:
        for n in range(3):
            load.wait_for(load.count() + 15)
            before = dict(load.acknowledged)
            path = source.tmp / f"live-{n}.{fmt}"
            made = source.manage("archive_backup", str(path), check=False)
            assert made.returncode == 0, made.stderr
            taken.append((path, before, load.count()))
        load.wait_for(load.count() + 15)  # the site went on taking replies after the backups
    assert not load.refused and load.cut_off == 0
    live = table(source, Comment)
    assert {pk for pk in load.acknowledged.values()} <= live.keys()

    for path, before, _ in taken:
        restored = target.manage("archive_restore", str(path), "--yes", check=False)
        assert restored.returncode == 0, restored.stderr
        copy = table(target, Comment)
        missing = set(before.values()) - copy.keys()
        assert not missing, f"{len(missing)} replies acknowledged before the backup are not in it"
        assert copy.keys() <= live.keys()
        assert_same_rows({pk: live[pk] for pk in copy}, copy, "comment")
        assert all(row["parent_id"] in copy for row in copy.values() if row["parent_id"] is not None)
        if target.sqlite_path is not None:
            assert target.query("PRAGMA integrity_check") == [("ok",)]
    log = source.stderr()
    assert "database is locked" not in log
    assert "Traceback" not in log, log[-3000:]


@pytest.mark.skipif(not ON_POSTGRES, reason="the SQLite file format is refused on PostgreSQL only")
def test_sqlite_file_format_is_refused_on_postgres(source: Server) -> None:
    path = source.tmp / "backup.sqlite3"
    made = source.manage("archive_backup", str(path), "--format", "sqlite", check=False)
    assert made.returncode != 0 and "use json" in made.stderr
    assert not path.exists()


@pytest.mark.parametrize("kind", ["json", "sqlite"])
def test_restore_refuses_a_file_that_is_not_a_backup(target: Server, kind: str) -> None:
    """A damaged or foreign file changes nothing: the posts and responses stay as they were."""
    before = table(target, Post), table(target, Comment)
    junk = target.tmp / f"junk-{secrets.token_hex(2)}.{kind}"
    if kind == "json":  # a response of a post that does not exist
        junk.write_text('[{"model": "archive.comment", "pk": 1, "fields": {"post": 999}}]')
    else:  # an SQLite database of something else
        with contextlib.closing(sqlite3.connect(junk)) as other:
            other.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
            other.commit()
    refused = target.manage("archive_restore", str(junk), "--yes", check=False)
    assert refused.returncode != 0 and "nothing changed" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    assert (table(target, Post), table(target, Comment)) == before


@pytest.mark.skipif(ON_POSTGRES, reason="the SQLite file format needs an SQLite site")
@pytest.mark.parametrize("keep", [100, 4096, 0.5, -1])
def test_restore_refuses_a_truncated_sqlite_backup(site: Server, keep: float) -> None:
    """A backup cut short (a full disk, a copy broken off) is refused in one line; nothing changes."""
    path = site.tmp / "backup.sqlite3"
    site.manage("archive_backup", str(path))
    whole = path.read_bytes()
    size = int(len(whole) * keep) if isinstance(keep, float) else keep % len(whole)
    path.write_bytes(whole[:size])
    before = table(site, Post), table(site, Comment)
    refused = site.manage("archive_restore", str(path), "--yes", check=False)
    assert refused.returncode != 0
    assert "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "nothing changed" in refused.stderr, refused.stderr
    assert (table(site, Post), table(site, Comment)) == before


NOT_A_BACKUP = "not a backup written by archive_backup"


@pytest.mark.parametrize("kind", ["empty list", "seed fixture", "dumpdata fixture", "no manifest"])
def test_restore_refuses_json_that_archive_backup_did_not_write(site: Server, kind: str) -> None:
    """Valid JSON, even a fixture of this very archive, is not a backup: restoring it would replace every
    post and response by what it holds (nothing, or only a post)."""
    before = table(site, Post), table(site, Comment)
    assert before[0], "the seed post is there to be wiped"
    path = site.tmp / "not-a-backup.json"
    if kind == "empty list":
        path.write_text("[]")
    elif kind == "seed fixture":
        path.write_bytes((REPO / "fixtures" / "seed_post.json").read_bytes())
    elif kind == "dumpdata fixture":
        path.write_text(site.manage("dumpdata", "archive", "auth.user").stdout)
    else:
        path.write_text('{"objects": []}')
    refused = site.manage("archive_restore", str(path), "--yes", check=False)
    assert refused.returncode != 0 and NOT_A_BACKUP in refused.stderr and "nothing changed" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert (table(site, Post), table(site, Comment)) == before


@pytest.mark.skipif(ON_POSTGRES, reason="the SQLite file format needs an SQLite site")
def test_restore_refuses_an_sqlite_database_that_archive_backup_did_not_write(site: Server) -> None:
    """A copy of some archive's live database file (no manifest) is refused like any other file."""
    path = site.tmp / "copy.sqlite3"
    with (
        contextlib.closing(sqlite3.connect(site.sqlite_path)) as live,
        contextlib.closing(sqlite3.connect(path)) as copy,
    ):
        live.backup(copy)
    site.query("DELETE FROM archive_post")
    refused = site.manage("archive_restore", str(path), "--yes", check=False)
    assert refused.returncode != 0 and NOT_A_BACKUP in refused.stderr, refused.stderr
    assert table(site, Post) == {}


def restore_with(site: Server, path: Path, stdin: int) -> subprocess.CompletedProcess:
    """`archive_restore PATH` without --yes, its standard input `stdin` (a file descriptor)."""
    return subprocess.run(
        [sys.executable, "manage.py", "archive_restore", str(path)],
        cwd=REPO, env=site.server_env(), stdin=stdin, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def answered(site: Server, path: Path, typed: bytes) -> subprocess.CompletedProcess:
    """The restore run on a terminal (a pseudo-terminal) where the operator types `typed`."""
    operator, terminal = pty.openpty()
    try:
        os.write(operator, typed)
        return restore_with(site, path, terminal)
    finally:
        os.close(operator)
        os.close(terminal)


@pytest.mark.parametrize("fmt", FORMATS)
def test_restore_says_what_it_replaces_and_asks_first(site: Server, fmt: str) -> None:
    path = site.tmp / f"backup.{fmt}"
    site.manage("archive_backup", str(path), "--format", fmt)
    site.query("DELETE FROM archive_post")
    question = "This replaces the 0 post(s) and 0 response(s) in the database now\nwith the backup's 1 post(s) and 0"

    unasked = restore_with(site, path, subprocess.DEVNULL)  # cron, a script: nobody to ask
    assert unasked.returncode != 0 and "--yes" in unasked.stderr and "nothing changed" in unasked.stderr
    assert question in unasked.stdout, unasked.stdout
    assert table(site, Post) == {}

    for typed in (b"n\n", b"\n", b"\x04"):  # no, just Enter, Ctrl-D
        declined = answered(site, path, typed)
        assert declined.returncode != 0 and "cancelled, nothing changed" in declined.stderr, (typed, declined.stderr)
        assert question in declined.stdout and "[y/N]" in declined.stdout
        assert "Traceback" not in declined.stderr
        assert table(site, Post) == {}

    accepted = answered(site, path, b"y\n")
    assert accepted.returncode == 0, accepted.stderr
    assert "Restored 1 post(s)" in accepted.stdout
    assert len(table(site, Post)) == 1
