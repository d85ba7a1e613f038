"""Phones, desktops and paper: at 360 px nothing scrolls sideways (not even a 300-character word or a very long
URL in a reply) and the form fits and is comfortable; at 1280 px the centred Kubrick column; printed, the
article without the form and the navigation. The screenshots are saved here too."""

from __future__ import annotations

import re

import pytest

from .helpers import (
    DESKTOP,
    LONG_WORD,
    PHONE,
    README_SCREENSHOT,
    SCREENSHOTS,
    expect,
    field,
    fill_reply,
    overflow,
    post_comment,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CONTROLS = """() => [...document.querySelectorAll("#commentform input, #commentform textarea")]
  .filter(el => el.type !== "hidden" && !el.closest("[hidden]"))
  .map(el => { const box = el.getBoundingClientRect(), style = getComputedStyle(el);
    return {id: el.id, type: el.type, left: box.left, right: box.right, width: box.width, height: box.height,
            fontSize: parseFloat(style.fontSize)}; })"""


def assert_no_sideways_scroll(page) -> None:
    widths = overflow(page)
    assert widths["scrollWidth"] <= widths["clientWidth"], widths


def assert_form_fits_and_is_comfortable(page) -> None:
    viewport = page.evaluate("document.scrollingElement.clientWidth")
    controls = page.evaluate(CONTROLS)
    assert {c["id"] for c in controls} >= {"comment", "author", "email", "url", "submit"}, controls
    for control in controls:
        assert control["left"] >= 0 and control["right"] <= viewport, control
        assert control["width"] >= 24 and control["height"] >= 24, control  # WCAG 2.2 target size
        if control["type"] in ("text", "email", "url", "textarea"):
            assert control["fontSize"] >= 16, control  # smaller makes phones zoom in on focus
            assert control["width"] >= 0.7 * viewport, control  # wide, even when moved under a nested reply
        if control["type"] == "submit":
            assert control["height"] >= 44, control


def test_nothing_scrolls_sideways_on_a_phone(thread, open_page):
    page = open_page(thread.post.get_absolute_url(), viewport=PHONE)
    long_reply = page.locator(f"#comment-{thread.long.pk}")
    expect(long_reply).to_contain_text(LONG_WORD)
    expect(long_reply.get_by_role("link", name=re.compile("segment011"))).to_have_count(1)
    assert_no_sideways_scroll(page)
    box = long_reply.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    assert_form_fits_and_is_comfortable(page)

    # The form moved under the deepest reply still fits.
    page.get_by_role("link", name="Reply to Ada").last.click()
    expect(page.locator(f"#comment-{thread.answer_to_answer.pk} > #respond")).to_have_count(1)
    assert_no_sideways_scroll(page)
    assert_form_fits_and_is_comfortable(page)
    page.watch.assert_clean()


def test_a_long_word_posted_from_a_phone_does_not_break_the_layout(post, open_page, open_comments):
    page = open_page(post.get_absolute_url(), viewport=PHONE)
    url = "https://example.com/" + "a" * 250
    fill_reply(page, f"{LONG_WORD}\n\n<{url}>", name="W" * 60)
    post_comment(page)
    expect(page).to_have_url(re.compile(r"#comment-\d+$"))
    expect(page.locator(".commentlist")).to_contain_text(LONG_WORD)
    assert_no_sideways_scroll(page)
    page.watch.assert_clean()


def test_the_form_error_page_fits_a_phone(post, open_page, open_comments):
    page = open_page(post.get_absolute_url(), viewport=PHONE)
    page.watch.expect_status(400)
    field(page, "Comment").fill(LONG_WORD)
    field(page, "Website").fill("not a web address " + "x" * 150)
    assert post_comment(page).status == 400
    expect(page.locator("#author-error")).to_be_visible()
    expect(page.locator("#url-error")).to_be_visible()
    assert_no_sideways_scroll(page)
    assert_form_fits_and_is_comfortable(page)
    page.watch.assert_clean()


@pytest.mark.parametrize("path", ["/", "/no-such-post/"])
def test_index_and_404_fit_a_phone(post, open_page, path):
    page = open_page(path, viewport=PHONE, status=404 if "no-such" in path else 200)
    assert_no_sideways_scroll(page)
    page.watch.assert_clean()


def test_the_column_is_centred_at_1280px(thread, open_page):
    page = open_page(thread.post.get_absolute_url(), viewport=DESKTOP)
    assert_no_sideways_scroll(page)
    viewport = page.evaluate("document.scrollingElement.clientWidth")
    for selector in ("#page", "#content", "#post-title"):
        box = page.locator(selector).bounding_box()
        left, right = box["x"], viewport - (box["x"] + box["width"])
        assert abs(left - right) <= 3, (selector, left, right)
        assert box["width"] < viewport - 200, (selector, box)
    # Kubrick's column: a readable measure, not the whole screen.
    assert 600 <= page.locator("#page").bounding_box()["width"] <= 800
    page.watch.assert_clean()


def test_print_shows_the_article_without_form_or_navigation(thread, open_page):
    page = open_page(thread.post.get_absolute_url())
    expect(page.locator("#respond")).to_be_visible()
    expect(page.get_by_role("navigation", name="Site")).to_be_visible()
    page.emulate_media(media="print")
    for hidden in ("#respond", ".site-nav", ".skip-link", ".reply", "#footer"):
        assert page.locator(hidden).first.evaluate("el => getComputedStyle(el).display") == "none", hidden
    expect(page.locator("#respond")).to_be_hidden()
    expect(page.get_by_role("navigation", name="Site")).to_be_hidden()
    expect(page.get_by_role("link", name="Reply to Ada").first).to_be_hidden()
    expect(page.locator("#post-title")).to_be_visible()
    expect(page.locator(".entry h2").first).to_be_visible()
    expect(page.locator(".archive-note")).to_be_visible()
    expect(page.locator(f"#comment-{thread.answer_to_answer.pk}")).to_be_visible()
    assert page.pdf(format="A4")[:5] == b"%PDF-"  # it really prints
    page.emulate_media(media="screen")
    expect(page.locator("#respond")).to_be_visible()
    page.watch.assert_clean()


def test_screenshots_at_360_and_1280px(thread, open_page):
    """The article with its responses, for people to look at: tests/screenshots/ (git-ignored), and the README's
    picture in static/readme/ — rewritten only when the pixels changed, so git sees no churn."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for viewport in (PHONE, DESKTOP):
        page = open_page(thread.post.get_absolute_url(), viewport=viewport)
        expect(page.locator(f"#comment-{thread.trackback.pk}")).to_be_visible()
        page.evaluate("document.fonts.ready")
        shot = SCREENSHOTS / f"article-{viewport['width']}.png"
        shot.unlink(missing_ok=True)
        page.screenshot(path=shot, full_page=True)
        assert shot.stat().st_size > 10_000
        if viewport is DESKTOP:
            top = page.screenshot()  # the first screen: header, navigation and the article's opening
            if not README_SCREENSHOT.exists() or README_SCREENSHOT.read_bytes() != top:
                README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                README_SCREENSHOT.write_bytes(top)
            assert README_SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        page.watch.assert_clean()
