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


def test_edit_and_delete_from_the_browser_that_wrote_it_only(post, open_page, open_comments, vnu_command, tmp_path):
    from .helpers import run_vnu
    from .test_accessibility import axe_violations

    page = open_page(post.get_absolute_url())
    fill_reply(page, "A reply with a tpyo.")
    post_comment(page)
    comment = Comment.objects.get()
    own = page.locator(f"#comment-{comment.pk}")
    expect(own.get_by_role("link", name="Edit your reply")).to_be_visible()
    assert axe_violations(page) == []
    served = {"article-own-reply.html": page.goto(post.get_absolute_url()).body()}
    page.locator(f"#comment-{comment.pk}").get_by_role("link", name="Edit your reply").click()
    expect(field(page, "Comment")).to_have_value("A reply with a tpyo.")
    served["edit.html"] = page.goto(page.url).body()
    assert axe_violations(page) == []
    shoot(page, "edit-reply.png")
    field(page, "Comment").fill("A reply with a typo mended.")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(f"#comment-{comment.pk}")).to_contain_text("typo mended")
    # Another browser sees the edit and no links, and cannot open the edit page.
    other = open_page(post.get_absolute_url())
    expect(other.locator(f"#comment-{comment.pk}")).to_contain_text("typo mended")
    expect(other.get_by_role("link", name="Edit your reply")).to_have_count(0)
    other.watch.expect_status(403)
    closed = other.goto(f"/comments/{comment.pk}/edit/")
    assert closed.status == 403
    served["closed.html"] = closed.body()
    assert axe_violations(other) == []
    shoot(other, "edit-closed.png")
    # Delete: a confirmation, then the trash.
    page.locator(f"#comment-{comment.pk}").get_by_role("link", name="Delete your reply").click()
    expect(page.get_by_role("heading", name="Delete your reply?")).to_be_visible()
    served["delete.html"] = page.goto(page.url).body()
    assert axe_violations(page) == []
    shoot(page, "delete-reply.png")
    page.get_by_role("button", name="Delete reply").click()
    expect(page.locator(f"#comment-{comment.pk}")).to_have_count(0)
    assert Comment.objects.get().status == Comment.Status.TRASH
    # The preview state, for both checkers: as served without JavaScript, and as the script leaves it.
    nojs = open_page(post.get_absolute_url(), js=False)
    fill_reply(nojs, "Previewed *text*.")
    with nojs.expect_navigation() as navigation:
        nojs.get_by_role("button", name="Preview").click()
    served["preview.html"] = navigation.value.body()
    assert b"Previewed <em>text</em>" in served["preview.html"]
    fill_reply(page, "Previewed *text*.")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#reply-preview em")).to_have_text("text")
    assert axe_violations(page) == []
    files = []
    for name, body in served.items():
        (tmp_path / name).write_bytes(body)
        files.append(tmp_path / name)
    errors = [f"{m['url'].rsplit('/', 1)[-1]}:{m.get('lastLine')}: {m['message']}" for m in run_vnu(vnu_command, files)
              if m["type"] in ("error", "non-document-error") or m.get("subType") == "fatal"]  # fmt: skip
    assert errors == [], "\n".join(errors)
    page.watch.assert_clean()
    other.watch.assert_clean()
    nojs.watch.assert_clean()
