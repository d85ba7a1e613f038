"""Edit and delete one's own reply (issue 13, item 5): only from the browser that wrote it (its signed
HttpOnly `comment_author_edit` cookie), only inside ARCHIVE_EDIT_MINUTES, through the same rules, the first
text kept for moderators, the page cache moved on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import TestCase

from archive import pagecache, readers
from archive.models import Comment, CommentEdit
from tests.replyhelpers import AWAITING, SAME_ORIGIN, browser, comment_item, fields_for, parse, redirected_id, send


@pytest.fixture(autouse=True)
def _rules(settings):
    settings.ARCHIVE_COMMENT_MODERATION = "open"
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 0
    settings.ARCHIVE_EDIT_MINUTES = 15


def posted(post, text="My first *words*."):
    client = browser()
    response = send(client, fields_for(post, comment=text))
    cookie = response.cookies[readers.AUTHOR_COOKIE]
    assert cookie["httponly"] and cookie["max-age"] == 15 * 60
    return client, Comment.objects.get(pk=redirected_id(response))


def post_to(client, url, data=None):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(url, data or {}, **SAME_ORIGIN)


def test_the_author_sees_edit_links_and_a_prefilled_form(post):
    client, comment = posted(post)
    page = client.get(post.get_absolute_url())
    assert "private" in page["Cache-Control"]
    links = [a.get("href") for a in comment_item(parse(page.content), comment.pk).find_all("a")]
    assert f"/comments/{comment.pk}/edit/" in links and f"/comments/{comment.pk}/delete/" in links
    form = client.get(f"/comments/{comment.pk}/edit/")
    assert form.status_code == 200 and "no-store" in form["Cache-Control"]
    assert "My first *words*." in form.content.decode()
    # Another reader's page shows no such link.
    assert f"/comments/{comment.pk}/edit/".encode() not in browser().get(post.get_absolute_url()).content


def test_an_edit_is_rendered_again_keeps_the_first_text_and_moves_the_cache_on(post):
    client, comment = posted(post)
    before = pagecache.current_version()
    response = post_to(client, f"/comments/{comment.pk}/edit/", {"comment": "Mended **words**."})
    assert response.status_code == 302 and response["Location"].endswith(f"#comment-{comment.pk}")
    comment.refresh_from_db()
    assert comment.content == "Mended **words**." and "<strong>words</strong>" in comment.content_html
    assert comment.status == Comment.Status.APPROVED
    assert list(CommentEdit.objects.values_list("content", flat=True)) == ["My first *words*."]
    assert pagecache.current_version() != before
    assert b"Mended" in browser().get(post.get_absolute_url()).content


def test_a_blocklisted_edit_goes_back_to_moderation(post, settings):
    client, comment = posted(post)
    settings.ARCHIVE_COMMENT_BLOCKLIST = ["casino"]
    post_to(client, f"/comments/{comment.pk}/edit/", {"comment": "Visit my casino."})
    comment.refresh_from_db()
    assert comment.status == Comment.Status.PENDING and comment.pending_token
    assert b"casino" not in browser().get(post.get_absolute_url()).content
    own = client.get(post.get_absolute_url())  # the author still sees it, held
    assert AWAITING.encode() in own.content and b"casino" in own.content


def test_an_edit_may_not_copy_another_reply_nor_be_empty(post):
    client, first = posted(post, "Words said once.")
    send(client, fields_for(post, comment="Other words."))  # the same author and email, from this browser
    refused = post_to(client, f"/comments/{first.pk}/edit/", {"comment": "Other words."})
    assert refused.status_code == 409 and "already said that" in refused.content.decode()
    assert b"Other words.</textarea>" in refused.content
    empty = post_to(client, f"/comments/{first.pk}/edit/", {"comment": " "})
    assert empty.status_code == 400 and b"Please type your comment text." in empty.content
    assert Comment.objects.get(pk=first.pk).content == "Words said once."


def test_outside_the_window_or_from_another_browser_nothing_to_edit(post):
    client, comment = posted(post)
    stranger = browser()
    for url in (f"/comments/{comment.pk}/edit/", f"/comments/{comment.pk}/delete/"):
        assert stranger.get(url).status_code == 403
        assert post_to(stranger, url, {"comment": "Hijacked"}).status_code == 403
    Comment.objects.filter(pk=comment.pk).update(created_at=comment.created_at - timedelta(minutes=16))
    closed = client.get(f"/comments/{comment.pk}/edit/")
    assert closed.status_code == 403 and b"can no longer be changed" in closed.content
    kept = post_to(client, f"/comments/{comment.pk}/edit/", {"comment": "Too late, but kept."})
    assert kept.status_code == 403 and b"Too late, but kept." in kept.content
    assert f"/comments/{comment.pk}/edit/".encode() not in client.get(post.get_absolute_url()).content
    assert client.get("/comments/999999/edit/").status_code == 404
    comment.refresh_from_db()
    assert comment.content == "My first *words*."


def test_cross_origin_edits_are_refused(post):
    client, comment = posted(post)
    evil = {"HTTP_ORIGIN": "https://evil.example", "HTTP_SEC_FETCH_SITE": "cross-site"}
    assert client.post(f"/comments/{comment.pk}/delete/", **evil).status_code == 403
    assert Comment.objects.get(pk=comment.pk).status == Comment.Status.APPROVED


def test_delete_asks_first_then_moves_the_reply_to_the_trash(post):
    client, comment = posted(post)
    confirm = client.get(f"/comments/{comment.pk}/delete/")
    assert confirm.status_code == 200 and b"Delete your reply?" in confirm.content
    assert Comment.objects.get(pk=comment.pk).status == Comment.Status.APPROVED
    before = pagecache.current_version()
    assert post_to(client, f"/comments/{comment.pk}/delete/").status_code == 302
    assert Comment.objects.get(pk=comment.pk).status == Comment.Status.TRASH
    assert pagecache.current_version() != before
    assert b"My first" not in browser().get(post.get_absolute_url()).content
    assert client.get(f"/comments/{comment.pk}/delete/").status_code == 403
