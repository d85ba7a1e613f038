"""The imported blog's old addresses answer 301 (308 for a ping's POST) to the archive's pages; nothing
else changes: unknown paths are still 404, the archive's own URLs still answer as before."""

import pytest
from django.test import Client

from tests.wxrhelpers import BLOG, run

pytestmark = pytest.mark.django_db


@pytest.fixture
def blog(db):
    run("import_wxr", BLOG, "--pages")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("/2016/01/12/hello-archive/", "/hello-archive/"),
        ("/2016/01/12/hello-archive", "/hello-archive/"),
        ("/2016/01/12/hello-archive/feed/", "/hello-archive/feed/"),
        ("/2016/01/12/hello-archive/feed/rss2/", "/hello-archive/feed/"),
        ("/2016/01/12/hello-archive/feed/atom/", "/hello-archive/feed/atom/"),
        ("/2016/01/12/hello-archive/trackback/", "/hello-archive/trackback/"),
        ("/2016/01/12/hello-archive/comment-page-2/", "/hello-archive/"),
        ("/2016/02/01/%D0%BF%D1%80%D0%B8%D0%B2%D0%B5%D1%82/", "/post/"),  # percent-encoded non-ASCII permalink
        ("/?p=4", "/hello-archive/"),
        ("/?p=8", "/post/"),
        ("/?page_id=2", "/about/"),
    ],
)
def test_old_links_land_on_the_archive(blog, old, new):
    response = Client().get(old)
    assert response.status_code == 301 and response["Location"] == new
    assert Client().get(new).status_code in (200, 302)  # a TrackBack URL sends a GET on to its post


def test_a_ping_to_the_old_trackback_url_is_sent_on_as_a_post(blog):
    response = Client().post("/2016/01/12/hello-archive/trackback/", {"url": "http://x.example/"})
    assert response.status_code == 308 and response["Location"] == "/hello-archive/trackback/"


@pytest.mark.parametrize("path", ["/2016/01/12/nothing/", "/?p=99", "/?p=2", "/?page_id=4", "/nothing/feed/"])
def test_what_the_blog_never_had_is_still_not_found_or_the_index(blog, path):
    response = Client().get(path)
    assert response.status_code == (200 if path.startswith("/?") else 404)  # "?p=" of no post: the index


def test_the_archive_answers_its_own_urls_as_before(blog):
    assert Client().get("/hello-archive").status_code == 301  # APPEND_SLASH, not an old link
    assert Client().get("/hello-archive")["Location"] == "/hello-archive/"
    assert Client().get("/hello-archive/feed/").status_code == 200
