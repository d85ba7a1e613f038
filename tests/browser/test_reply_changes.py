"""Second thoughts in Chromium (issue 13): preview a reply with JavaScript on (no reload, the endpoint's
sanitised HTML inserted, focus on the preview's heading) and off (the form posts, nothing is stored, the page
comes back with the preview and the text); edit and delete one's own reply from the browser that wrote it,
and nothing to change from another. Screenshots of each state go to tests/screenshots/ (git-ignored)."""

from __future__ import annotations

import pytest

from archive.models import Comment

from .helpers import SCREENSHOTS, expect, field, fill_reply, post_comment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
JS = pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
MARKDOWN = "Some *emphasis* and <b>raw tags</b>\n\n> a quote"


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / name, full_page=False)


@JS
def test_preview_shows_the_reply_as_stored_and_keeps_the_text(post, open_page, open_comments, js):
    page = open_page(post.get_absolute_url(), js=js)
    fill_reply(page, MARKDOWN)
    loads = []
    page.on("load", lambda _: loads.append(1))
    page.get_by_role("button", name="Preview").click()
    region = page.locator("#reply-preview")
    expect(region).to_be_visible()
    expect(region.locator("em")).to_have_text("emphasis")
    expect(region.locator("blockquote")).to_contain_text("a quote")
    expect(region).to_contain_text("<b>raw tags</b>")  # raw HTML is text, as in the stored reply
    expect(field(page, "Comment")).to_have_value(MARKDOWN)
    expect(field(page, "Name")).to_have_value("Reader")
    if js:
        assert loads == [], "the JavaScript preview reloaded the page"
        expect(page.locator("#reply-preview-title")).to_be_focused()
    assert Comment.objects.count() == 0
    region.scroll_into_view_if_needed()
    shoot(page, f"preview-{'js' if js else 'no-js'}.png")
    # And the reply, posted after its preview, is the same HTML.
    shown = region.inner_html()
    post_comment(page)
    comment = Comment.objects.get()
    assert page.locator(f"#comment-{comment.pk} .comment-content").inner_html().strip() in shown
    page.watch.assert_clean()
