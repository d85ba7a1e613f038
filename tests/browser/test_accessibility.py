"""Accessibility in Chromium: axe-core finds no violations on every kind of page and state; the reply form can
be used with the keyboard alone; focus is visible; landmarks, language, skip link, labels and descriptions."""

from __future__ import annotations

import re

import pytest

from archive.models import Comment

from .helpers import PHONE, TITLE, contrast, expect, field, mail_pages, post_comment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
# Every rule axe runs by default (WCAG 2.0–2.2 A/AA and best practices), plus the target-size rule of WCAG 2.2.
AXE_OPTIONS = {"resultTypes": ["violations"], "rules": {"target-size": {"enabled": True}}}


def axe_violations(page) -> list[str]:
    """axe-core's violations on the page as it is now: one line per rule and element."""
    from axe_playwright_python.sync_playwright import Axe  # ships axe.min.js; injected through DevTools, not CSP

    results = Axe().run(page, options=AXE_OPTIONS).response
    assert results["passes"] or results["violations"], "axe did not run any rule"
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at {node['target']}"
        for violation in results["violations"]
        for node in violation["nodes"]
    ]


def test_axe_on_the_index_and_the_404(post, open_page):
    page = open_page("/")
    expect(page.get_by_role("link", name=TITLE)).to_be_visible()
    assert axe_violations(page) == []
    missing = open_page("/no-such-post/", status=404)
    expect(missing.get_by_role("heading", level=1)).to_have_text("Error 404 - Not Found")
    assert axe_violations(missing) == []
    page.watch.assert_clean()
    missing.watch.assert_clean()


def test_axe_on_the_article_without_responses(post, open_page):
    page = open_page(post.get_absolute_url())
    expect(page.get_by_role("heading", name="No Responses yet")).to_be_visible()
    assert axe_violations(page) == []
    page.watch.assert_clean()


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["1280px", "360px"])
def test_axe_on_the_article_with_threads_and_a_trackback(thread, open_page, viewport):
    page = open_page(thread.post.get_absolute_url(), viewport=viewport)
    expect(page.locator(f"#comment-{thread.answer_to_answer.pk}")).to_be_visible()
    expect(page.locator(f"#comment-{thread.trackback.pk}.trackback")).to_be_visible()
    assert axe_violations(page) == []
    # With the form moved under a reply by its "Reply" link.
    page.get_by_role("link", name="Reply to Brian").click()
    expect(page.locator(f"#comment-{thread.answer.pk} > #respond")).to_have_count(1)
    assert axe_violations(page) == []
    page.watch.assert_clean()


def test_axe_with_a_form_error_shown(post, open_page, open_comments):
    page = open_page(post.get_absolute_url())
    page.watch.expect_status(400)
    field(page, "Comment").fill("Text that must not be lost.")
    field(page, "Email").fill("not an address")
    assert post_comment(page).status == 400
    expect(page.locator("#author-error")).to_be_visible()
    expect(page.locator("#email-error")).to_be_visible()
    assert axe_violations(page) == []
    page.watch.assert_clean()


@pytest.fixture
def mail_on(settings, live_server) -> None:
    """Mail configured (no SMTP server needed: the pages only queue tasks), its links to the live server."""
    settings.ARCHIVE_MAIL_ENABLED = True
    settings.ARCHIVE_BASE_URL = live_server.url


def test_axe_on_the_pages_of_the_links_in_mails(post, open_comments, mail_on, open_page):
    pages = mail_pages(post)
    for path in (pages.confirm, pages.unsubscribe, pages.forget, pages.forget_confirm):
        page = open_page(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        assert axe_violations(page) == [], path
        page.watch.assert_clean()
    page = open_page(pages.moderate)
    expect(page.get_by_role("heading", level=1)).to_have_text("Approve?")
    expect(page.locator(".moderated-response")).to_contain_text("Held for its links")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Approve").click()  # Chromium's own Sec-Fetch-Site passes the check
    expect(page.get_by_role("heading", level=1)).to_have_text("Approved")
    assert axe_violations(page) == []
    assert Comment.objects.get(pk=pages.held.pk).status == Comment.Status.APPROVED
    page.watch.assert_clean()


def test_axe_on_the_reply_form_with_the_notification_box(post, open_comments, mail_on, open_page):
    page = open_page(post.get_absolute_url())
    box = page.get_by_role("checkbox", name="Notify me of follow-up replies by email")
    expect(box).not_to_be_checked()
    choice = page.get_by_role("group", name="Notify me of")
    expect(choice.get_by_role("radio", name="replies to my comment")).to_be_checked()
    assert axe_violations(page) == []
    page.watch.assert_clean()


def test_landmarks_language_skip_link_labels_and_descriptions(post, open_page):
    page = open_page(post.get_absolute_url())
    expect(page.locator("html")).to_have_attribute("lang", "en")
    for role in ("banner", "main", "contentinfo"):
        expect(page.get_by_role(role)).to_have_count(1)
    expect(page.get_by_role("navigation", name="Site")).to_have_count(1)
    expect(page.get_by_role("main")).to_have_attribute("id", "content")

    # The skip link: first in the tab order, visible once focused, and it moves focus to the content.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_have_attribute("href", "#content")
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.get_by_role("main")).to_be_focused()

    # Every control a reader can reach has a label; required ones say so; the email note describes its field.
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll("#commentform input, #commentform textarea")]
                  .filter(el => !["hidden", "submit"].includes(el.type) && !el.closest("[hidden]"))
                  .filter(el => el.labels.length === 0 || !el.labels[0].textContent.trim())
                  .map(el => el.id)"""
    )
    assert unlabelled == []
    for name in ("Comment", "Name", "Email"):
        expect(field(page, name)).to_have_attribute("required", "")
    expect(field(page, "Website")).not_to_have_attribute("required", re.compile(".*"))
    expect(field(page, "Email")).to_have_accessible_description("Your email address will not be published.")
    expect(page.get_by_role("checkbox", name=re.compile("^Save my name, email, and website"))).to_be_visible()
    # The honeypot is out of reach: hidden and out of the tab order.
    expect(page.locator("#hp_homepage")).to_be_hidden()
    page.watch.assert_clean()


def test_the_header_text_contrast_holds_along_the_whole_gradient(post, open_page):
    """axe cannot judge text on a gradient (it reports it as "needs review"), so every stop is checked here."""
    page = open_page(post.get_absolute_url())
    colours = page.evaluate(
        """() => ({
          background: getComputedStyle(document.getElementById("header")).backgroundImage,
          title: getComputedStyle(document.querySelector(".site-title a")).color,
          tagline: getComputedStyle(document.querySelector("#headerimg .description")).color,
        })"""
    )
    stops = re.findall(r"rgba?\([^)]*\)", colours["background"])
    assert len(stops) >= 2, colours
    for stop in stops:
        assert contrast(colours["tagline"], stop) >= 4.5, (colours["tagline"], stop)
        assert contrast(colours["title"], stop) >= 4.5, (colours["title"], stop)
    page.watch.assert_clean()


@pytest.mark.parametrize(("js", "key"), [(True, "Enter"), (False, "Space")], ids=["js-enter", "no-js-space"])
def test_posting_with_the_keyboard_alone(post, open_page, open_comments, js, key):
    page = open_page(post.get_absolute_url(), js=js)
    order = []
    for _ in range(40):  # Tab from the top of the page until the comment field has the focus
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()"))
        if order[-1] == "comment":
            break
    assert order[0] == "Skip to content", order
    assert order[-1] == "comment", order

    page.keyboard.type("Typed with the keyboard alone.")
    then = [("author", "Keyboard User"), ("email", "keys@example.org"), ("url", ""), ("wp-comment-cookies-consent", "")]
    for element_id, text in [*then, ("submit", "")]:
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == element_id
        if text:
            page.keyboard.type(text)
    with page.expect_navigation():
        page.keyboard.press(key)
    comment = Comment.objects.get(content="Typed with the keyboard alone.")
    assert comment.author == "Keyboard User"
    expect(page).to_have_url(re.compile(f"#comment-{comment.pk}$"))
    expect(page.locator(f"#comment-{comment.pk}")).to_contain_text("Typed with the keyboard alone.")
    page.watch.assert_clean()


def test_reply_link_with_the_keyboard_moves_focus_into_the_form(thread, open_page):
    page = open_page(thread.post.get_absolute_url())
    reply = page.get_by_role("link", name="Reply to Brian")
    reply.focus()
    page.keyboard.press("Enter")
    expect(page.locator(f"#comment-{thread.answer.pk} > #respond")).to_have_count(1)
    expect(field(page, "Comment")).to_be_focused()
    page.watch.assert_clean()


OUTLINE = """el => { const s = getComputedStyle(el);
  return [s.outlineStyle, s.outlineWidth, s.outlineColor, s.outlineOffset, s.boxShadow].join(" "); }"""


@pytest.mark.parametrize("target", ["link", "input"])
def test_focus_is_visible(post, open_page, target):
    page = open_page(post.get_absolute_url())
    element = page.get_by_role("link", name="All archived posts") if target == "link" else field(page, "Name")
    unfocused = element.evaluate(OUTLINE)
    element.focus()  # as the keyboard would: Tab to the element before it, then Tab
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    expect(element).to_be_focused()
    focused = element.evaluate(OUTLINE)
    assert focused != unfocused, (unfocused, focused)
    style, width = element.evaluate("el => [getComputedStyle(el).outlineStyle, getComputedStyle(el).outlineWidth]")
    width = float(width.removesuffix("px"))
    assert style not in ("none", "hidden") and width >= 2, (style, width)
    page.watch.assert_clean()
