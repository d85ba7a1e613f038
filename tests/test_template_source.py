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
