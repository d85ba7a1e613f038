"""What the feed, sitemap and metadata tests share: the W3C Feed Validation Service's own code, feedparser,
and the text a reader sees in an entry's HTML.

The validator is not on PyPI: a copy of its source lives beside the project, in
../shared/peers/feedvalidator/src (found from BASE_DIR, so it works from any worktree and in CI). It runs on
Python 3.11 as it is (its Python 3 port uses urllib.request, http.client and html5lib), so no shims are
needed. Without it the validation tests are skipped with a loud message; with CI=true that is a failure.
"""

from __future__ import annotations

import importlib
import io
import os
import sys
from pathlib import Path
from types import ModuleType
from urllib.parse import urlencode

import feedparser
import lxml.html
import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import Client

from archive import moderation, policy
from archive.models import Comment, Post

FEEDVALIDATOR_SRC = Path(settings.BASE_DIR).parent / "shared" / "peers" / "feedvalidator" / "src"
IN_CI = os.environ.get("CI", "").strip().lower() == "true"
EMAILS = ["ada@example.org", "brian@example.org", "held@example.org", "spam@example.org", "trash@example.org"]
HIDDEN = ["Held back for moderation.", "Buy cheap watches.", "Thrown in the trash."]


def feedvalidator() -> ModuleType:
    if not (FEEDVALIDATOR_SRC / "feedvalidator" / "__init__.py").is_file():
        message = (
            f"!!! The W3C Feed Validator's code is missing ({FEEDVALIDATOR_SRC}): the feeds cannot be "
            "validated. It is the copy in ../shared/peers/feedvalidator/ beside the project."
        )
        if IN_CI:
            pytest.fail(f"{message} CI=true, so this is a failure, not a skip.", pytrace=False)
        pytest.skip(message)
    if str(FEEDVALIDATOR_SRC) not in sys.path:
        sys.path.append(str(FEEDVALIDATOR_SRC))  # appended: its demo.py, index.py … shadow nothing installed
    return importlib.import_module("feedvalidator")


def validator_messages(body: bytes, content_type: str, url: str) -> tuple[str, list[str]]:
    """The feed type the validator recognised, and every error and warning it reports (the online service's
    "AA" level, which leaves out informational notes), worded by its own text formatter."""
    validator = feedvalidator()
    compatibility = importlib.import_module("feedvalidator.compatibility")
    formatter = importlib.import_module("feedvalidator.formatter.text_plain")
    result = validator.validateStream(io.BytesIO(body), firstOccurrenceOnly=0, contentType=content_type, base=url)
    return result["feedType"], list(formatter.Formatter(compatibility.AA(result["loggedEvents"])))


def parse_feed(response: HttpResponse) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(response.content, response_headers={"content-type": response["Content-Type"]})
    assert not parsed.bozo, parsed.bozo_exception
    return parsed


def entry_html(entry: feedparser.FeedParserDict) -> str:
    """An entry's HTML as feedparser hands it to a reader: Atom's <content>, else RSS's <description>."""
    return entry.content[0].value if "content" in entry else entry.summary


def blocks_shown(html: str) -> list[tuple[str, str]]:
    """(tag, text) of each top-level element of an entry's HTML: what a reader's screen shows of it, a <br>
    being a line break, as in a browser's innerText."""
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    for br in root.iter("br"):
        br.tail = "\n" + (br.tail or "")
    return [(element.tag, element.text_content()) for element in root]


def text_shown(detail: feedparser.FeedParserDict) -> str:
    """A title as a reader shows it: feedparser marks an RSS title it found HTML in as text/html."""
    if detail.type == "text/html":
        return lxml.html.fragment_fromstring(detail.value, create_parent="div").text_content()
    return detail.value


def make_discussion(post: Post, settings) -> dict[str, Comment]:
    """Responses of every kind and status on `post`, stored by the application's own rules: a thread of two
    replies and a TrackBack sent over HTTP (public), and one held, one spam and one trashed reply."""
    settings.ARCHIVE_COMMENT_MODERATION = "open"
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 0

    def reply(parent=None, **fields) -> Comment:
        return policy.accept(policy.Candidate(post=post, parent=parent, ip_address="127.0.0.1", **fields))

    ada = reply(author="Ada", email=EMAILS[0], content="Ada says *this* & <b>that</b>.")
    brian = reply(ada, author="Brian", email=EMAILS[1], url="https://brian.example.org/", content="Brian answers.")
    statuses = [Comment.Status.PENDING, Comment.Status.SPAM, Comment.Status.TRASH]
    for name, email, text, status in zip(["held", "spam", "trash"], EMAILS[2:], HIDDEN, statuses, strict=True):
        hidden = reply(author=name.title(), email=email, content=text)
        moderation.set_status(Comment.objects.filter(pk=hidden.pk), status)
    fields = {"title": "A post about this", "url": "https://blog.example.net/a-post/", "blog_name": "Some Blog"}
    body = urlencode({**fields, "excerpt": "An excerpt that links here."})
    form = "application/x-www-form-urlencoded; charset=utf-8"
    ping = Client().post(post.get_trackback_url(), body, content_type=form)
    assert b"<error>0</error>" in ping.content, ping.content
    trackback = Comment.objects.get(post=post, kind=Comment.Kind.TRACKBACK)
    return {"ada": ada, "brian": brian, "trackback": trackback}
