"""The database out of reach (a restart, a failover): 503 with Retry-After and WordPress's words, never a
traceback, a reply's text handed back, and every worker working again by itself once the database is back.

Real server, real SQLite file: the database is moved away under a running server (which opens a connection
per request here, as it would after its persistent connection broke), then put back.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.server import Client, Server, reply_fields


def move(paths: list[Path], suffix: str, back: bool = False) -> None:
    for path in paths:
        here, there = (path.with_name(path.name + suffix), path) if back else (path, path.with_name(path.name + suffix))
        if here.exists():
            os.replace(here, there)


@pytest.fixture(scope="module")
def server():
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("moves the SQLite file away; PostgreSQL restarts belong to the cluster tests")
    with Server(workers=2, env={"SQLITE_NO_PERSISTENT": "1", "ARCHIVE_PAGE_CACHE": "0",
                                "ARCHIVE_COMMENT_MODERATION": "open"}) as running:  # fmt: skip
        yield running


def test_requests_during_the_gap_get_503_and_the_site_recovers_alone(server):
    post_id, slug = server.first_post()
    reader = Client(server.url)
    assert reader.get(f"/{slug}/").status == 200
    files = [server.sqlite_path.with_name(server.sqlite_path.name + s) for s in ("", "-wal", "-shm")]
    move(files, ".away")
    server.sqlite_path.mkdir()  # what was the database is now a directory: every connection fails
    try:
        page = reader.get(f"/{slug}/")
        assert page.status == 503
        assert page.headers["Retry-After"] == "30"
        assert "Error establishing a database connection" in page.text
        assert "Traceback" not in page.text and "OperationalError" not in page.text
        typed = "A reply typed while the database was away"
        answer = reader.post_reply(f"/{slug}/", reply_fields(post_id, typed))
        assert answer.status == 503 and typed in answer.text
    finally:
        server.sqlite_path.rmdir()
        move(files, ".away", back=True)
    for _ in range(4):  # both workers, without a restart
        assert reader.get(f"/{slug}/").status == 200
    answer = reader.post_reply(f"/{slug}/", reply_fields(post_id, "Stored once the database is back"))
    assert answer.status == 302
    stored = server.query("SELECT content FROM archive_comment ORDER BY id")
    assert stored == [("Stored once the database is back",)]  # and nothing of the refused one
