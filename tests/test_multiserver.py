"""Several app servers behind one proxy agree on what is cached: two production server processes share one
database and one cache, and a reply posted or moderated through either is what both show at once.

Two shapes: one machine (a file cache, the page-cache version a symlink in a page directory both servers
use), and several machines (a cache every machine reaches, here the database cache, which holds the version
itself: archive/pagecache.py)."""

import pytest

from tests.server import Client, Server, reply_fields

pytestmark = pytest.mark.server

OPEN = {"ARCHIVE_COMMENT_MODERATION": "open", "ARCHIVE_COMMENT_FLOOD_SECONDS": "0"}


def anonymous_page(server: Server, path: str) -> str:
    answer = Client(server.url).get(path)
    assert answer.status == 200
    return answer.text


@pytest.mark.parametrize("cache", ["one machine", "several machines"])
def test_invalidation_reaches_every_server_sharing_the_cache(cache):
    env = {**OPEN, **({"CACHE_URL": "db://archive_page_cache"} if cache == "several machines" else {})}
    with Server(workers=2, env=env) as first:
        shared = {
            **env,
            "DATABASE_URL": first.database_url,
            "DJANGO_SECRET_KEY": first.secret_key,
            # Same machine: the same cache folder and page directory. Several machines: only the database.
            **({} if cache == "several machines" else {
                "CACHE_URL": first.server_env()["CACHE_URL"], "ARCHIVE_PAGE_DIR": first.server_env()["ARCHIVE_PAGE_DIR"]
            }),
        }  # fmt: skip
        with Server(workers=2, env=shared) as second:
            post_id, slug = first.first_post()
            page = f"/{slug}/"
            for server in (first, second, first, second):  # each has served (and cached) the page
                assert "No Responses yet" in anonymous_page(server, page)
            hits_before = first.query("SELECT count(*) FROM archive_comment")[0][0]

            answer = Client(second.url).post_reply(page, reply_fields(post_id, "Posted through the second"))
            assert answer.status == 302, answer.text[:300]
            assert first.query("SELECT count(*) FROM archive_comment")[0][0] == hits_before + 1
            for server in (first, second):
                shown = anonymous_page(server, page)
                assert "Posted through the second" in shown
                assert "One Response to" in shown

            # A moderator on the first server's side marks it as spam: both stop showing it at once.
            script = ("from archive import moderation; from archive.models import Comment; "
                      "moderation.set_status(Comment.objects.all(), 'spam')")  # fmt: skip
            first.manage("shell", "-c", script)
            for server in (first, second):
                shown = anonymous_page(server, page)
                assert "Posted through the second" not in shown
                assert "No Responses yet" in shown
