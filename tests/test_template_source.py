"""No template source ever reaches a reader: a `{# … #}` that spans lines is not a comment in Django's
templates (only `{% comment %}` is), and such slips show up as text on the page that no markup test sees.
Every kind of page is rendered and its text and attribute values searched for `{#`, `{%` and `{{`."""

from html.parser import HTMLParser

import pytest
from django.test import Client, TestCase

from archive import policy
from archive.models import Comment
from tests.replyhelpers import SAME_ORIGIN, fields_for

MARKERS = ("{#", "#}", "{%", "%}", "{{", "}}")


class Text(HTMLParser):
    """Everything a reader (or a screen reader, or a crawler) can get out of a page: text and attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.parts.extend(value for _, value in attrs if value)


def leaks(html: bytes) -> list[str]:
    parser = Text()
    parser.feed(html.decode())
    return [part.strip()[:80] for part in parser.parts if any(marker in part for marker in MARKERS)]


def test_the_check_finds_a_leak():
    assert leaks(b"<p>{# a comment that spans\nlines #}</p>") == ["{# a comment that spans\nlines #}"]
    assert leaks(b'<a title="{{ x }}">y</a>') == ["{{ x }}"]


@pytest.fixture
def discussion(post, settings):
    settings.ARCHIVE_COMMENTS_PER_PAGE = 1
    settings.ARCHIVE_COMMENT_MODERATION = "open"
    first = policy.accept(policy.Candidate(post=post, author="Ann", email="ann@example.com", content="First"))
    policy.accept(policy.Candidate(post=post, parent=first, author="Bo", email="bo@example.com", content="Reply"))
    policy.accept(policy.Candidate(post=post, kind=Comment.Kind.TRACKBACK, url="https://blog.example/a",
                                   title="A ping", content="Excerpt", blog_name="Blog"))  # fmt: skip
    return post


def pages(post) -> dict[str, bytes]:
    found = {
        "index": Client().get("/").content,
        "article": Client().get(post.get_absolute_url()).content,
        "comment page": Client().get(f"/{post.slug}/comment-page-1/").content,
        "reply link": Client().get(post.get_absolute_url() + "?replytocom=1").content,
        "404": Client().get("/no-such-post/").content,
    }
    with TestCase.captureOnCommitCallbacks(execute=True):
        found["form error"] = Client().post("/comments/post/", fields_for(post, author=""), **SAME_ORIGIN).content
        cross_site = Client().post("/comments/post/", fields_for(post), HTTP_SEC_FETCH_SITE="cross-site")
        found["cross-site"] = cross_site.content
        author = Client()
        author.post("/comments/post/", fields_for(post, comment="Held https://a.example https://b.example"),
                    **SAME_ORIGIN)  # fmt: skip
    found["held reply, its author's view"] = author.get(post.get_absolute_url()).content
    found["admin CSRF failure"] = Client(enforce_csrf_checks=True).post("/admin/login/", {"username": "x"}).content
    return found


def test_no_page_shows_template_source(discussion):
    for name, html in pages(discussion).items():
        assert b"<html" in html, name
        assert leaks(html) == [], name


def test_no_mail_and_no_page_of_a_mail_link_shows_template_source(post, settings):
    """The plain-text mails (templates/mail/) and the pages their links open, in every state."""
    from urllib.parse import urlsplit

    from archive import notify
    from archive.mail import links, messages

    settings.ARCHIVE_MAIL_ENABLED = True
    settings.ARCHIVE_COMMENT_MODERATION = "open"
    settings.ARCHIVE_MODERATOR_EMAILS = ["moderator@example.net"]
    first = policy.accept(policy.Candidate(post=post, author="Ann", email="ann@example.com", content="First"))
    held = policy.accept(policy.Candidate(post=post, parent=first, author="Bo", email="bo@example.com",
                                          content="Held https://a.example https://b.example"))  # fmt: skip
    ping = policy.accept(policy.Candidate(post=post, kind=Comment.Kind.TRACKBACK, url="https://blog.example/a",
                                          title="A ping", content="Excerpt", blog_name="Blog"))  # fmt: skip
    subscription = notify.subscribe(first, "all")
    notify.confirm(subscription)
    mails = [messages.held(held.pk), messages.published(first.pk), messages.published(ping.pk),
             messages.reply(subscription.pk, ping.pk), messages.forget("ann@example.com")]  # fmt: skip
    subscription.confirmed_at = None
    subscription.save()
    mails.append(messages.confirm(subscription.pk))
    for mail in mails:
        assert mail is not None
        text = mail.subject + mail.body
        assert not any(marker in text for marker in MARKERS), text
    urls = (links.moderate_url(held, "approve"), links.confirm_url(subscription.pk),
            links.unsubscribe_url(subscription.key), links.forget_url("ann@example.com"))  # fmt: skip
    paths = [urlsplit(url).path for url in urls]
    for path in [*paths, "/comments/forget/", "/comments/moderate/not-a-token/"]:
        html = Client().get(path).content
        assert b"<html" in html and leaks(html) == [], path
    html = Client().post("/comments/forget/", {"email": "x"}, **SAME_ORIGIN).content
    assert b"<html" in html and leaks(html) == []
