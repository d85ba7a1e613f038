"""Several app servers behind one proxy agree on what is cached: two production server processes share one
database and one cache, and a reply posted or moderated through either is what both show at once."""

import pytest

from tests.server import Client, Server, reply_fields

pytestmark = pytest.mark.server

OPEN = {"ARCHIVE_COMMENT_MODERATION": "open", "ARCHIVE_COMMENT_FLOOD_SECONDS": "0"}


def anonymous_page(server: Server, path: str) -> str:
    answer = Client(server.url).get(path)
    assert answer.status == 200
    return answer.text


def test_invalidation_reaches_every_server_sharing_the_cache():
    with Server(workers=2, env=OPEN) as first:
        shared = {
            **OPEN,
            "DATABASE_URL": first.database_url,
            "CACHE_URL": first.server_env()["CACHE_URL"],
            "DJANGO_SECRET_KEY": first.secret_key,
        }
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
