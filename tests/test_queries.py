"""The article page costs the same few queries with 0, 10 or 1,000 responses: no N+1 in the comment tree."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from archive import pagecache
from archive.models import Comment


@pytest.fixture(autouse=True)
def _uncached(settings):
    settings.ARCHIVE_PAGE_CACHE = False


def add_threads(post, count: int) -> None:
    """`count` responses: a third top-level, the rest replies nested up to the depth limit, a few pings."""
    now = timezone.now()
    start = Comment.objects.count()
    created: list[Comment] = []
    for n in range(count):
        parent = created[n - 1] if n % 3 and created else None
        thread = (parent.thread or parent) if parent else None
        comment = Comment.objects.create(
            post=post, parent=parent, thread=thread, status=Comment.Status.APPROVED,
            kind=Comment.Kind.TRACKBACK if n % 10 == 9 else Comment.Kind.COMMENT,
            author=f"Reader {n}", author_url="https://example.com/" if n % 2 else "", title=f"Ping {n}",
            content=f"Words {n}", content_html=f"<p>Words {n}</p>", dedupe_key=f"k{start + n}", created_at=now,
        )  # fmt: skip
        created.append(comment)


def queries_for(url: str) -> int:
    """Queries of a first view after a change (the thread summary is kept per page-cache version)."""
    pagecache.invalidate()
    with CaptureQueriesContext(connection) as captured:
        assert Client().get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("count", [0, 10, 1000])
def test_article_page_queries_are_few_and_constant(post, settings, count, django_assert_max_num_queries):
    settings.ARCHIVE_COMMENTS_PER_PAGE = 50
    add_threads(post, count)
    pagecache.invalidate()
    with django_assert_max_num_queries(5):
        Client().get(post.get_absolute_url())


def test_the_thread_summary_is_counted_once_per_version(post):
    """Readers the page cache cannot serve (remembered details, a query string) share the counts."""
    add_threads(post, 10)
    first = queries_for(post.get_absolute_url())
    with CaptureQueriesContext(connection) as again:
        Client().get(post.get_absolute_url() + "?x=1")
    assert len(again) == first - 1


def test_query_count_does_not_grow_with_responses(post, settings):
    settings.ARCHIVE_COMMENTS_PER_PAGE = 50
    add_threads(post, 10)
    few = queries_for(post.get_absolute_url())
    add_threads(post, 990)
    assert queries_for(post.get_absolute_url()) == few
    assert queries_for(post.get_absolute_url().rstrip("/") + "/comment-page-1/") == few


def test_reply_link_target_adds_one_query(post):
    add_threads(post, 5)
    first = Comment.objects.first()
    base = queries_for(post.get_absolute_url())
    assert queries_for(f"{post.get_absolute_url()}?replytocom={first.pk}") == base + 1
