"""No reflector, no stall (issue 14, item 7): twenty mentions whose source answers only after 30 s, on
the production server with two real worker processes. Meanwhile the article still serves and a reply
still posts, and the source host never sees two fetches of ours at once. Timings belong to `make bench`,
not here: the test asserts only what must hold."""

from __future__ import annotations

import pytest

from tests.ping_helpers import SourceSite, Worker, html_linking_to, wait_until
from tests.server import Client, Server, reply_fields

pytestmark = pytest.mark.server
MENTIONS = 20


def test_slow_sources_neither_stall_the_site_nor_get_hammered():
    env = {"ARCHIVE_FETCH_ALLOW_PRIVATE": "1", "ARCHIVE_FETCH_DEADLINE_SECONDS": "3",
           "ARCHIVE_FETCH_RETRY_SECONDS": "5", "ARCHIVE_COMMENT_FLOOD_SECONDS": "0",
           "ARCHIVE_COMMENT_MODERATION": "open"}  # fmt: skip
    with Server(workers=2, env=env) as server, SourceSite() as site:
        post_id, slug = server.first_post()
        target = f"{server.url}/{slug}/"
        sender = Client(server.url)
        for n in range(MENTIONS):
            source = site.page(f"/slow-{n}", html_linking_to(target), delay=30)
            assert sender.post("/webmention/", {"source": source, "target": target}).status == 202
        with Worker(server), Worker(server):
            wait_until(lambda: len(site.requests) >= 3, timeout=120, what="the workers to be fetching")
            reader = Client(server.url, timeout=10)
            page = reader.get(f"/{slug}/")
            assert page.status == 200 and "Leave a Reply" in page.text
            answer = reader.post_reply(f"/{slug}/", reply_fields(post_id, "Posted while sources crawl"))
            assert answer.status == 302
            assert "Posted while sources crawl" in Client(server.url).get(f"/{slug}/").text
            wait_until(lambda: len(site.requests) >= 6, timeout=120, what="more fetches")
        assert site.max_concurrent == 1  # one fetch per source host at a time, across both workers
        stored = server.query("SELECT count(*) FROM archive_comment WHERE kind = 'webmention'")
        assert stored == [(0,)]
