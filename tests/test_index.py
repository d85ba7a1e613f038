"""The front page with many posts: newest published first, ten a page (/page/N/ as WordPress pages it),
dates and public response counts; `?s=` searches titles and text."""

import html
from datetime import UTC, datetime

import pytest
from django.test import Client

from archive.models import Post
from tests.wxrhelpers import BLOG, run

pytestmark = pytest.mark.django_db


def make_posts(count):
    for n in range(count):
        Post.objects.create(
            title=f"Post number {n:02d}", slug=f"post-{n:02d}", body=f"text {n}", source_name=f"gen-{n}",
            original=b"x", sha256="0" * 64, encoding="utf-8", published_at=datetime(2015, 1, n + 1, tzinfo=UTC),
        )  # fmt: skip


def titles(page):
    return [html.unescape(line.split(">", 1)[1].split("<", 1)[0]) for line in page.split('rel="bookmark"')[1:]]


def test_newest_first_ten_a_page(post):
    make_posts(25)
    first = Client().get("/").content.decode()
    assert titles(first)[:10] == [f"Post number {n:02d}" for n in range(24, 14, -1)]
    assert 'href="/page/2/">« Older posts</a>' in first and "Page 1 of 3" in first
    third = Client().get("/page/3/").content.decode()
    assert titles(third)[-1] == post.title  # the seed has no publication date: it comes last
    assert 'href="/page/2/">Newer posts »</a>' in third
    assert Client().get("/page/4/").status_code == 404
    assert Client().get("/page/0/").status_code == 404


def test_dates_and_response_counts_are_shown():
    run("import_wxr", BLOG)
    page = Client().get("/").content.decode()
    assert 'published <time datetime="2016-01-12T10:00:00+00:00">January 12, 2016</time> by Zoë Ångström' in page
    assert "5 responses</a>" in page  # public ones only: not the held, spam or trashed
    assert "No responses</a>" in page
    assert titles(page) == ["Привет, мир", "Hello, archive: “quotes” & naïve café"]


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("gallery", ["Hello, archive: “quotes” & naïve café"]),  # in the text
        ("Привет", ["Привет, мир"]),  # in a title
        ("block quoted", ["Привет, мир"]),  # every word, anywhere
        ("nothing-like-this", []),
    ],
)
def test_search_finds_titles_and_text(query, found):
    run("import_wxr", BLOG)
    page = Client().get("/", {"s": query}).content.decode()
    assert titles(page) == found
    assert f"Search results for “{query}”" in page
    if not found:
        assert "nothing matched your search terms" in page


def test_search_is_safe_with_any_input():
    run("import_wxr", BLOG)
    for query in ['"', "AND (", "'; DROP TABLE archive_post; --", "x" * 5000, "%", "_"]:
        assert Client().get("/", {"s": query}).status_code == 200
    assert Post.objects.count() == 2
