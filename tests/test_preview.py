"""Preview (issue 13, item 4): the "Preview" button shows the reply as it would be stored, keeps every field
as typed, stores nothing, counts for no rule, and is refused cross-origin — with and without JavaScript
(the browser half is in tests/browser/test_reply_changes.py)."""

from __future__ import annotations

import pytest

from archive import markup
from archive.models import Comment
from tests.replyhelpers import FLOOD, SAME_ORIGIN, browser, fields_for, form_values, notice, parse, redirected_id, send

PREVIEW_URL = "/comments/preview/"
TEXT = "Some *emphasis*, a <script>alert(1)</script> and www.example.org\r\n\r\n    code block"


@pytest.fixture(autouse=True)
def _flood(settings):
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 60
    settings.ARCHIVE_COMMENT_MODERATION = "open"


def preview(client, post, **fields):
    return send(client, fields_for(post, preview="Preview", **fields))


def test_preview_without_javascript_renders_as_stored_and_keeps_the_form(post):
    client = browser()
    consent = {"wp-comment-cookies-consent": "yes"}
    response = preview(client, post, comment=TEXT, url="https://reader.example.org/", **consent)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert not response.cookies
    doc = parse(response.content)
    region = doc.one(id="reply-preview")
    assert "hidden" not in region.attrs
    shown = doc.one(id="reply-preview-content")
    assert "<em>emphasis</em>" in response.content.decode()
    assert "alert(1)" in shown.text() and shown.find("script") is None  # raw HTML is text
    assert shown.find("pre") is not None and shown.find("a").get("rel") == "nofollow ugc"
    values = form_values(doc)
    assert values["comment"] == TEXT
    assert values["url"] == "https://reader.example.org/"
    assert values["wp-comment-cookies-consent"] is True
    assert doc.find(cls="field-error") is None  # not judged until posted
    assert Comment.objects.count() == 0


def test_preview_is_what_is_stored(post):
    client = browser()
    answer = client.post(PREVIEW_URL, {"comment": TEXT}, **SAME_ORIGIN)
    assert answer.status_code == 200
    assert answer["Content-Type"] == "text/html; charset=utf-8"
    assert "no-store" in answer["Cache-Control"]
    pk = redirected_id(send(client, fields_for(post, comment=TEXT)))
    assert answer.content.decode() == Comment.objects.get(pk=pk).content_html
    assert answer.content.decode() == markup.render_comment(TEXT.replace("\r\n", "\n"))


def test_previews_count_for_neither_flood_nor_duplicates(post):
    client = browser()
    for _ in range(3):
        assert preview(client, post, comment="The same words.").status_code == 200
        assert client.post(PREVIEW_URL, {"comment": "The same words."}, **SAME_ORIGIN).status_code == 200
    pk = redirected_id(send(client, fields_for(post, comment="The same words.")))
    assert Comment.objects.filter(pk=pk).exists()
    # After a real reply the flood rule still holds for the next real one, while previews go on.
    assert preview(client, post, comment="Another text.").status_code == 200
    refused = send(client, fields_for(post, comment="Another text."))
    assert refused.status_code == 429 and FLOOD in notice(parse(refused.content))


def test_an_empty_preview_says_so_and_keeps_the_other_fields(post):
    client = browser()
    response = preview(client, post, comment="  \r\n ", author="Kept Name")
    assert response.status_code == 400
    doc = parse(response.content)
    assert "Please type your comment text." in notice(doc)
    assert form_values(doc)["author"] == "Kept Name"
    answer = client.post(PREVIEW_URL, {"comment": ""}, **SAME_ORIGIN)
    assert answer.status_code == 400 and answer.content.decode() == "Please type your comment text."


def test_cross_origin_previews_are_refused(post):
    client = browser()
    evil = {"HTTP_ORIGIN": "https://evil.example", "HTTP_SEC_FETCH_SITE": "cross-site"}
    assert client.post(PREVIEW_URL, {"comment": "hi"}, **evil).status_code == 403
    page = client.post("/comments/post/", fields_for(post, preview="Preview", comment="kept words"), **evil)
    assert page.status_code == 403
    assert form_values(parse(page.content))["comment"] == "kept words"


def test_a_closed_post_previews_nothing(post):
    post.comments_open = False
    post.save()
    response = preview(browser(), post, comment="hello")
    assert response.status_code == 403


def test_the_preview_endpoint_takes_only_post(post):
    assert browser().get(PREVIEW_URL).status_code == 405
