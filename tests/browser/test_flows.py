"""What a reader does, in Chromium: read the article, post a reply, answer a reply, correct a form error —
each with JavaScript on, and the posting flows again with JavaScript off. Every flow ends with zero console
errors and zero Content-Security-Policy violations (the `open_page` fixture checks again at teardown)."""

from __future__ import annotations

import re

import pytest

from archive.models import Comment

from .helpers import FIRST_PARAGRAPH, SUBHEADINGS, TITLE, expect, field, fill_reply, post_comment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
JS = pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])


def stored(text: str) -> Comment:
    return Comment.objects.get(content=text)


def test_read_the_seed_article(post, open_page):
    page = open_page(post.get_absolute_url())
    expect(page).to_have_title(f"{TITLE} | The Archive")
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    article = page.get_by_role("article").filter(has=page.locator("#post-title"))
    expect(article.locator(".entry h2")).to_have_text(SUBHEADINGS)
    expect(article.locator(".entry p").first).to_contain_text(FIRST_PARAGRAPH)
    note = page.get_by_role("complementary", name="About this copy")
    expect(note).to_contain_text("This is an archived copy of a post scraped from a WordPress blog")
    expect(note).to_contain_text(post.sha256)
    expect(note.get_by_role("link", name="The original text")).to_have_attribute("href", post.get_original_url())
    expect(page.get_by_role("heading", name="No Responses yet")).to_be_visible()
    expect(page.get_by_role("heading", name="Leave a Reply")).to_be_visible()
    # The index leads to it.
    page.goto("/")
    page.get_by_role("link", name=TITLE).click()
    expect(page).to_have_url(re.compile(re.escape(post.get_absolute_url()) + "$"))
    page.watch.assert_clean()


@JS
def test_post_a_reply_and_land_on_it(post, open_page, open_comments, js):
    page = open_page(post.get_absolute_url(), js=js)
    text = f"A first reply typed into the form (JavaScript {'on' if js else 'off'})."
    fill_reply(page, text)
    response = post_comment(page)
    comment = stored(text)
    assert comment.status == Comment.Status.APPROVED and comment.parent is None
    assert response.status == 200
    expect(page).to_have_url(re.compile(re.escape(f"{post.get_absolute_url()}#comment-{comment.pk}") + "$"))
    shown = page.locator(f"#comment-{comment.pk}")
    expect(shown).to_be_visible()
    expect(shown).to_contain_text(text)
    expect(shown.locator("cite.fn")).to_have_text("Reader")
    expect(page.get_by_role("heading", name=f"One Response to “{post.title}”")).to_be_visible()
    assert page.evaluate("location.hash") == f"#comment-{comment.pk}"
    # The form is empty again, ready for the next reply.
    expect(field(page, "Comment")).to_have_value("")
    page.watch.assert_clean()


def test_reply_link_moves_the_form_and_cancel_puts_it_back(post, open_page, open_comments):
    page = open_page(post.get_absolute_url())
    fill_reply(page, "The comment we are going to answer.", name="Ada")
    post_comment(page)
    first = stored("The comment we are going to answer.")
    url_before = page.url
    respond = page.locator("#respond")
    cancel = page.get_by_role("link", name="Cancel reply")
    expect(cancel).to_be_hidden()

    page.get_by_role("link", name="Reply to Ada").click()
    # The form now sits under the comment, inside its <li>, and nothing was loaded.
    expect(page.locator(f"#comment-{first.pk} > #respond")).to_have_count(1)
    expect(page.locator(f"#div-comment-{first.pk} + #respond")).to_have_count(1)
    assert page.url == url_before
    expect(page.locator("#comment_parent")).to_have_value(str(first.pk))
    expect(page.locator("#reply-title")).to_contain_text("Reply to Ada")
    expect(cancel).to_be_visible()
    expect(field(page, "Comment")).to_be_focused()

    cancel.click()
    expect(page.locator(f"#comment-{first.pk} #respond")).to_have_count(0)
    expect(page.locator("#comments-area > #respond")).to_have_count(1)
    expect(page.locator("#comment_parent")).to_have_value("0")
    expect(page.locator("#reply-title-text")).to_have_text("Leave a Reply")
    expect(cancel).to_be_hidden()
    assert page.url == url_before

    # Then reply for real: the answer is nested under Ada's comment.
    page.get_by_role("link", name="Reply to Ada").click()
    expect(respond).to_be_visible()
    fill_reply(page, "An answer nested under Ada's comment.", name="Brian", email="brian@example.org")
    post_comment(page)
    answer = stored("An answer nested under Ada's comment.")
    assert answer.parent_id == first.pk
    expect(page).to_have_url(re.compile(f"#comment-{answer.pk}$"))
    nested = page.locator(f"#comment-{first.pk} > ol.children > li#comment-{answer.pk}")
    expect(nested).to_be_visible()
    expect(nested).to_contain_text("An answer nested under Ada's comment.")
    expect(page.locator("#comments-area > #respond")).to_have_count(1)  # a fresh page: the form is home again
    page.watch.assert_clean()


def test_reply_link_without_javascript_follows_replytocom(post, open_page, open_comments):
    page = open_page(post.get_absolute_url(), js=False)
    fill_reply(page, "Answer me without JavaScript.", name="Ada")
    post_comment(page)
    first = stored("Answer me without JavaScript.")

    with page.expect_navigation():
        page.get_by_role("link", name="Reply to Ada").click()
    expect(page).to_have_url(re.compile(rf"\?replytocom={first.pk}#respond$"))
    expect(page.locator("#reply-title")).to_contain_text("Leave a Reply to Ada")
    expect(page.locator("#comment_parent")).to_have_value(str(first.pk))
    expect(page.get_by_role("link", name="Cancel reply")).to_be_visible()

    fill_reply(page, "Answered, with plain links and a plain form.", name="Brian", email="brian@example.org")
    post_comment(page)
    answer = stored("Answered, with plain links and a plain form.")
    assert answer.parent_id == first.pk
    expect(page).to_have_url(re.compile(re.escape(f"{post.get_absolute_url()}#comment-{answer.pk}") + "$"))
    nested = page.locator(f"#comment-{first.pk} > ol.children > li#comment-{answer.pk}")
    expect(nested).to_be_visible()
    expect(nested).to_contain_text("Answered, with plain links and a plain form.")
    page.watch.assert_clean()


@JS
def test_a_missing_name_keeps_the_text_and_marks_the_field(post, open_page, open_comments, js):
    page = open_page(post.get_absolute_url(), js=js)
    page.watch.expect_status(400)  # the page again, with the error: WordPress's answer too, as a 4xx
    text = "A long thought I would hate to type again.\n\nSecond paragraph, *with* Markdown."
    field(page, "Comment").fill(text)
    field(page, "Email").fill("reader@example.org")
    response = post_comment(page)
    assert response.status == 400
    assert not Comment.objects.exists()

    expect(field(page, "Comment")).to_have_value(text)
    expect(field(page, "Email")).to_have_value("reader@example.org")
    name = field(page, "Name")
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_have_attribute("aria-describedby", re.compile(r"(^| )author-error( |$)"))
    error = page.locator("#author-error")
    expect(error).to_have_text("Please enter your name.")
    expect(name).to_have_accessible_description("Please enter your name.")
    expect(page.get_by_role("alert")).to_contain_text("Your reply was not saved")
    # Beside the field: in the same paragraph, just under the input, in the same column.
    expect(page.locator("p.comment-form-author.has-error #author-error")).to_have_count(1)
    box, message = name.bounding_box(), error.bounding_box()
    assert 0 <= message["y"] - (box["y"] + box["height"]) < 40, (box, message)
    assert abs(message["x"] - box["x"]) < 5, (box, message)
    # The other fields carry no error.
    expect(field(page, "Comment")).not_to_have_attribute("aria-invalid", "true")

    # Correcting the one field is enough.
    name.fill("Reader")
    post_comment(page)
    comment = Comment.objects.get()
    assert comment.content.replace("\r\n", "\n") == text  # browsers send a textarea's line breaks as CRLF
    expect(page).to_have_url(re.compile(f"#comment-{comment.pk}$"))
    expect(page.locator(f"#comment-{comment.pk} em")).to_have_text("with")
    page.watch.assert_clean()


def test_the_watch_catches_what_the_strict_policy_blocks(post, open_page):
    """The checks above can fail: the page is served with the strict policy, and an inline style or script
    slipped into it is reported both by the DOM event and by Chromium, and a thrown error is a page error."""
    page = open_page(None)
    response = page.goto(post.get_absolute_url())
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy, policy
    page.evaluate(
        """() => document.body.insertAdjacentHTML("beforeend",
             '<p style="color: red">inline style</p><img src="/static/archive/favicon.svg" onload="alert(1)">')"""
    )
    page.evaluate("() => setTimeout(() => { throw new Error('thrown by the page'); })")
    page.wait_for_function("() => document.querySelectorAll('p[style]').length === 1")
    for _ in range(50):  # the reports arrive as events; wait for them, not for a clock
        if len(page.watch.csp_violations) >= 4 and page.watch.page_errors:
            break
        page.evaluate("() => new Promise(requestAnimationFrame)")
    reports = "\n".join(page.watch.csp_violations)
    assert "style-src-attr | inline" in reports  # the securitypolicyviolation event, via the init script
    assert "script-src-attr | inline" in reports
    assert "(reported by Chromium)" in reports  # the DevTools audit issue
    assert any("thrown by the page" in error for error in page.watch.page_errors)
    assert len(page.watch.problems()) >= 4
    page.watch.asserted = True  # these problems were the point
