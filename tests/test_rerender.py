"""`manage.py rerender_comments` (issue 3, rule 4): stored reply HTML re-rendered from its source when the
sanitising policy changes, in batches, with one page-cache invalidation, and the page showing the result."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from archive import markup, pagecache
from archive.models import Comment
from tests.replyhelpers import comment_item, dangers, get, make_comment

# What an older, looser policy let through: an image, a style attribute, a link without rel.
OLD_HTML = (
    '<p>Hello <img src="https://example.com/x.png"> <a href="https://example.com/" style="color:red">site</a></p>'
)


LONG_AGO = datetime(2001, 1, 1, tzinfo=UTC)


def stale(post, content: str = "", **kwargs) -> Comment:
    comment = make_comment(post, content, **kwargs)
    Comment.objects.filter(pk=comment.pk).update(content_html=OLD_HTML, modified_at=LONG_AGO)
    return Comment.objects.get(pk=comment.pk)


def rerender(*args) -> tuple[int, int]:
    out = StringIO()
    call_command("rerender_comments", *args, stdout=out)
    match = re.search(r"(\d+) of (\d+) repl(?:y|ies) (?:changed|would change)\.", out.getvalue())
    assert match, out.getvalue()
    return int(match[1]), int(match[2])


@pytest.fixture
def invalidations(monkeypatch) -> list[int]:
    """Counts calls of the real pagecache.invalidate (which still runs)."""
    calls: list[int] = []
    real = pagecache.invalidate

    def counting() -> None:
        calls.append(1)
        real()

    monkeypatch.setattr(pagecache, "invalidate", counting)
    return calls


def test_stale_replies_are_re_rendered_and_counted(post):
    old = [stale(post, f"Visit https://example.com/{n} *now*") for n in range(3)]
    fresh = make_comment(post, "Already **current**.")
    assert rerender() == (3, 4)
    for comment in old:
        comment.refresh_from_db()
        assert comment.content_html == markup.render_comment(comment.content)
        assert 'rel="nofollow ugc"' in comment.content_html
    fresh_html = Comment.objects.get(pk=fresh.pk).content_html
    assert fresh_html == "<p>Already <strong>current</strong>.</p>"


def test_pings_are_left_alone(post):
    ping = make_comment(post, "An excerpt", kind=Comment.Kind.TRACKBACK, url="https://blog.example.com/")
    Comment.objects.filter(pk=ping.pk).update(content_html="left as it is")
    stale(post)
    assert rerender() == (1, 1)
    assert Comment.objects.get(pk=ping.pk).content_html == "left as it is"


def test_every_status_is_re_rendered(post):
    for status in Comment.Status.values:
        stale(post, status=status)
    assert rerender() == (4, 4)
    assert not Comment.objects.filter(content_html=OLD_HTML).exists()


def test_the_page_shows_the_new_html(post):
    comment = stale(post, "Plain words and https://example.com/")
    _, before = get(Client(), post.get_absolute_url())  # rendered and cached with the old HTML
    assert comment_item(before, comment.pk).find("img") is not None
    rerender()
    _, after = get(Client(), post.get_absolute_url())
    content = comment_item(after, comment.pk).one("div", cls="comment-content")
    assert dangers(content) == []
    assert content.one("a").get("rel") == "nofollow ugc"


def test_cache_invalidated_once_when_something_changed(post, invalidations):
    for _ in range(5):
        stale(post)
    before = pagecache.current_version()
    invalidations.clear()  # the set-up's own saves
    assert rerender("--batch-size", "2") == (5, 5)
    assert len(invalidations) == 1
    assert pagecache.current_version() != before


def test_nothing_changed_nothing_invalidated(post, invalidations):
    make_comment(post, "Current.")
    before = pagecache.current_version()
    invalidations.clear()
    assert rerender() == (0, 1)
    assert invalidations == []
    assert pagecache.current_version() == before


def test_second_run_finds_nothing_to_do(post):
    for _ in range(3):
        stale(post)
    assert rerender() == (3, 3)
    assert rerender() == (0, 3)


def test_modified_at_moves(post):
    comment = stale(post)
    untouched = make_comment(post, "Current.")
    Comment.objects.filter(pk=untouched.pk).update(modified_at=LONG_AGO)
    rerender()
    assert Comment.objects.get(pk=comment.pk).modified_at > LONG_AGO  # the page's Last-Modified moves on
    assert Comment.objects.get(pk=untouched.pk).modified_at == LONG_AGO


def test_dry_run_writes_nothing(post, invalidations):
    comment = stale(post)
    invalidations.clear()
    assert rerender("--dry-run") == (1, 1)
    assert Comment.objects.get(pk=comment.pk).content_html == OLD_HTML
    assert invalidations == []


def test_empty_database(db):
    assert rerender() == (0, 0)


def test_bad_batch_size(db):
    with pytest.raises(CommandError):
        call_command("rerender_comments", "--batch-size", "0", stdout=StringIO())


@pytest.mark.parametrize("count", [30, 90])
def test_writes_in_batches(post, count, django_assert_max_num_queries):
    """Constant reads and one UPDATE per batch: 30 or 90 rows in batches of 30 cost at most a handful
    of queries each, never one per row."""
    for n in range(count):
        stale(post, f"Reply {n}")
    batches = count // 30
    with django_assert_max_num_queries(1 + 3 * batches):  # one read; per batch: savepoint, UPDATE, release
        assert rerender("--batch-size", "30") == (count, count)
    assert not Comment.objects.filter(content_html=OLD_HTML).exists()
