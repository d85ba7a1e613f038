"""A crash in the middle of a posting load loses nothing that was acknowledged.

The server is killed with SIGKILL, master and workers together (its whole process group), while client
threads are posting replies; it is started again on the same database. Every reply answered 302 before the
kill must be there, once, under the id its redirect named, and on the page; the database must pass its
integrity check. This is what WAL with synchronous=NORMAL promises for a process crash (a commit reaches
the OS before the answer is sent); the test shows the server keeps that promise end to end.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

import pytest

from .server import SERVER_KINDS, Client, ReplyLoad, Server, reply_fields

pytestmark = pytest.mark.server

THREADS = 6
PER_THREAD = 150  # upper bound: the kill normally comes long before
KILL_AFTER = 40  # acknowledged replies per round before the kill
ROUNDS = 2
COMMENT_ID = re.compile(r'<li id="comment-(\d+)"')


@pytest.fixture(params=SERVER_KINDS)
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """Each production server the project runs: gunicorn (archive/gunicorn.conf.py), granian (`make run`)."""
    env = {
        "ARCHIVE_COMMENT_MODERATION": "open",
        "ARCHIVE_COMMENT_FLOOD_SECONDS": "0",
        "ARCHIVE_COMMENTS_PER_PAGE": "1000",
    }
    with Server(workers=2, env=env, kind=request.param) as running:
        yield running


def test_sigkill_mid_load_loses_no_acknowledged_reply(server: Server) -> None:
    acknowledged: dict[str, int] = {}
    sent_before_kill = 0
    tags = []
    for round_ in range(ROUNDS):
        with ReplyLoad(server, threads=THREADS, per_thread=PER_THREAD) as load:
            tags.append(load.tag)
            load.wait_for(KILL_AFTER)
            server.stop(kill=True)  # SIGKILL to master and workers, mid-request
        assert not load.refused, load.refused[:5]
        assert load.cut_off > 0, "the kill came after the load had finished: nothing was in flight"
        acknowledged.update(load.acknowledged)
        sent_before_kill += len(load.acknowledged) + load.cut_off
        server.start()

        if server.sqlite_path is not None:
            assert server.query("PRAGMA integrity_check") == [("ok",)]
            assert server.query("PRAGMA foreign_key_check") == []
        rows = [
            row
            for tag in tags
            for row in server.query("SELECT id, content FROM archive_comment WHERE content LIKE %s", [f"Load {tag} %"])
        ]
        stored = Counter(content for _, content in rows)
        lost = set(acknowledged) - set(stored)
        assert not lost, f"round {round_}: {len(lost)} acknowledged replies lost, e.g. {sorted(lost)[:3]}"
        assert max(stored.values()) == 1, "a reply was stored twice"
        id_of = {content: pk for pk, content in rows}
        assert all(id_of[text] == pk for text, pk in acknowledged.items()), "a reply changed its id"

    # The restarted server shows them, and still takes replies.
    client = Client(server.url)
    post_id, slug = server.first_post()
    shown = {int(pk) for pk in COMMENT_ID.findall(client.get(f"/{slug}/").text)}
    assert set(acknowledged.values()) <= shown
    after = client.post_reply(f"/{slug}/", reply_fields(post_id, f"After the crashes {tags[0]}"))
    assert after.status == 302
    assert len(acknowledged) >= ROUNDS * KILL_AFTER
    assert sent_before_kill > len(acknowledged)  # some requests were cut off, and that lost nothing answered
    assert "database is locked" not in server.stderr()
    print(  # the figures for the closing note (pytest -s or -rP shows them)
        f"crash[{server.kind}]: {ROUNDS} SIGKILLs, {sent_before_kill} replies sent before them, "
        f"{len(acknowledged)} acknowledged, all {len(acknowledged)} present after restart, 0 lost"
    )
