"""The feeds at WordPress's URLs, read as a feed reader reads them: validated by the W3C Feed Validation
Service's own code, parsed by feedparser, every link followed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import lxml.html
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.http import http_date

from archive import feeds, moderation, pagecache
from archive.importing import import_file
from archive.models import Comment, Post
from tests.feedcheck import (
    EMAILS,
    HIDDEN,
    blocks_shown,
    entry_html,
    make_discussion,
    parse_feed,
    text_shown,
    validator_messages,
)

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).parent / "samples"
ATOM = "{http://www.w3.org/2005/Atom}"
THR = "{http://purl.org/syndication/thread/1.0}"
SLASH = "{http://purl.org/rss/1.0/modules/slash/}"
WFW = "{http://wellformedweb.org/CommentAPI/}"


@pytest.fixture
def discussion(post, settings) -> dict[str, Comment]:
    return make_discussion(post, settings)


@pytest.fixture
def literal_post(db) -> Post:
    result = import_file(SAMPLES / "literal.txt")
    assert not result.failed, result
    return Post.objects.get(source_name="literal.txt")


def feed_urls(post: Post) -> list[str]:
    return [
        reverse("archive:feed"),
        reverse("archive:feed-atom"),
        reverse("archive:comments-feed"),
        reverse("archive:comments-feed-atom"),
        reverse("archive:post-comments-feed", args=[post.slug]),
        reverse("archive:post-comments-feed-atom", args=[post.slug]),
    ]


def fetch(client: Client, url: str):
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response


def follow(client: Client, link: str) -> str:
    """GET an absolute link of a feed on this server; the page's HTML. Its #fragment must name an element."""
    address, fragment = urldefrag(link)
    parts = urlsplit(address)
    assert (parts.scheme, parts.netloc) == ("http", "testserver"), link
    html = fetch(client, parts.path).content.decode()
    if fragment:
        assert f'id="{fragment}"' in html, f"{link}: no element with id {fragment}"
    return html


# --- Validity -------------------------------------------------------------------------------------------


FEED_IDS = ["posts", "posts-atom", "comments", "comments-atom", "post", "post-atom"]


@pytest.mark.parametrize("index", range(6), ids=FEED_IDS)
def test_every_feed_passes_the_w3c_validator(post, literal_post, discussion, index):
    url = feed_urls(post)[index]
    response = fetch(Client(), url)
    atom = url.endswith("/atom/")
    assert response["Content-Type"] == ("application/atom+xml" if atom else "application/rss+xml") + "; charset=utf-8"
    feed_type, messages = validator_messages(response.content, response["Content-Type"], "http://testserver" + url)
    assert messages == []
    assert feed_type == (3 if atom else 2)  # feedvalidator.base's TYPE_ATOM, TYPE_RSS2
    assert parse_feed(response).version == ("atom10" if atom else "rss20")


def test_an_empty_comment_feed_is_valid_too(post):
    for url in feed_urls(post)[2:]:
        response = fetch(Client(), url)
        assert validator_messages(response.content, response["Content-Type"], "http://testserver" + url)[1] == []
        assert parse_feed(response).entries == []


def test_the_validator_does_report_errors(post):
    """The helper is not deaf: an Atom entry stripped of its author (what Django writes when nobody says
    "unknown") is an error to the validator."""
    response = fetch(Client(), reverse("archive:feed-atom"))
    name = f"<author><name>{feeds.UNKNOWN_AUTHOR}</name></author>".encode()
    assert name in response.content
    _, messages = validator_messages(response.content.replace(name, b""), response["Content-Type"], "http://testserver/feed/atom/")
    assert any("author" in message for message in messages), messages


# --- The posts ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/feed/", "/feed/atom/"])
def test_posts_feed_lists_posts_newest_first_with_their_text_literal(post, literal_post, discussion, url):
    client = Client()
    Post.objects.filter(pk=post.pk).update(imported_at=timezone.now() - timedelta(days=1))
    parsed = parse_feed(fetch(client, url))
    assert [e.title for e in parsed.entries] == [literal_post.title, post.title]
    for entry, archived in zip(parsed.entries, [literal_post, post], strict=True):
        assert entry.link == "http://testserver" + archived.get_absolute_url()
        follow(client, entry.link)
        # Every block as on the page: <p> and <h2>, each character literal ("&amp;" stays five characters).
        assert blocks_shown(entry_html(entry)) == [(block.kind, block.text) for block in archived.blocks]
    texts = [text for _, text in blocks_shown(entry_html(parsed.entries[0]))]
    assert "A <b>tag</b> and a <script>alert(1)</script> stay text." in texts
    assert "Fish & chips &amp; an entity stay text." in texts
    assert "*Not emphasis*, only stars." in texts
    tags = {el.tag for el in lxml.html.fragment_fromstring(entry_html(parsed.entries[0]), create_parent="div").iter()}
    assert tags <= {"div", "p", "h2", "br"}, tags  # no <b>, no <script>, no Markdown's <em> or <li>


def test_posts_say_no_publication_date_and_no_author(post):
    rss = parse_feed(fetch(Client(), "/feed/")).entries[0]
    assert "published" not in rss and "author" not in rss
    atom = parse_feed(fetch(Client(), "/feed/atom/")).entries[0]
    assert "published" not in atom
    assert atom.updated_parsed[:6] == post.imported_at.utctimetuple()[:6]  # the import: all that is known
    assert atom.author == feeds.UNKNOWN_AUTHOR


def test_posts_carry_their_count_and_comment_feeds(post, discussion):
    client = Client()
    public = Comment.objects.public().filter(post=post).count()
    assert public == 3  # Ada, Brian, the TrackBack; not the held, spam or trashed reply
    item = ET.fromstring(fetch(client, "/feed/").content).find("channel/item")
    assert item.findtext(f"{SLASH}comments") == "3"
    comments_rss = "http://testserver" + reverse("archive:post-comments-feed", args=[post.slug])
    assert item.findtext(f"{WFW}commentRss") == comments_rss
    assert item.findtext("comments") == f"http://testserver{post.get_absolute_url()}#comments"
    entry = ET.fromstring(fetch(client, "/feed/atom/").content).find(f"{ATOM}entry")
    replies = entry.find(f"{ATOM}link[@rel='replies']")
    assert replies.get("href") == "http://testserver" + reverse("archive:post-comments-feed-atom", args=[post.slug])
    assert replies.get("type") == "application/atom+xml"
    assert replies.get(f"{THR}count") == "3"
    assert entry.findtext(f"{THR}total") == "3"
    for link in (item.findtext(f"{WFW}commentRss"), replies.get("href")):
        assert len(parse_feed(fetch(client, urlsplit(link).path)).entries) == 3


def test_rss_and_atom_titles_are_the_title_literally(tmp_path, db):
    seed = tmp_path / "title.txt"
    seed.write_text("Fish & <chips> *now* &amp; then\n\nA paragraph.\n", encoding="utf-8")
    assert not import_file(seed).failed
    for url in ("/feed/", "/feed/atom/"):
        entry = parse_feed(fetch(Client(), url)).entries[0]
        assert text_shown(entry.title_detail) == "Fish & <chips> *now* &amp; then", url


def test_a_post_titled_feed_does_not_hide_the_site_feed(tmp_path, db):
    seed = tmp_path / "feed.txt"
    seed.write_text("Feed\n\nA post whose title is the feed's URL.\n", encoding="utf-8")
    assert not import_file(seed).failed
    post = Post.objects.get(source_name="feed.txt")
    assert post.slug == "feed-2"
    client = Client()
    assert fetch(client, "/feed/")["Content-Type"].startswith("application/rss+xml")
    assert "A post whose title" in fetch(client, post.get_absolute_url()).content.decode()


# --- The responses --------------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["site", "post"])
@pytest.mark.parametrize("atom", [False, True], ids=["rss", "atom"])
def test_comment_feeds_list_public_responses_newest_first(post, discussion, scope, atom):
    client = Client()
    name = "archive:comments-feed" if scope == "site" else "archive:post-comments-feed"
    url = reverse(name + ("-atom" if atom else ""), args=[post.slug] if scope == "post" else [])
    response = fetch(client, url)
    parsed = parse_feed(response)
    ada, brian, trackback = discussion["ada"], discussion["brian"], discussion["trackback"]
    if scope == "post":
        titles = ["Trackback: A post about this", "By: Brian", "By: Ada"]
    else:
        titles = [f"Trackback on {post.title}: A post about this", f"Comment on {post.title} by Brian",
                  f"Comment on {post.title} by Ada"]  # fmt: skip
    assert [text_shown(e.title_detail) for e in parsed.entries] == titles
    assert [e.author for e in parsed.entries] == ["Some Blog", "Brian", "Ada"]
    assert [e.link for e in parsed.entries] == [
        f"http://testserver{post.get_absolute_url()}#comment-{c.pk}" for c in (trackback, brian, ada)
    ]
    for entry in parsed.entries:
        follow(client, entry.link)
    html = [entry_html(e) for e in parsed.entries]
    assert "An excerpt that links here." in blocks_shown(html[0])[1][1]
    assert blocks_shown(html[2]) == [("p", "Ada says this & <b>that</b>.")]  # Markdown's <em>, as on the page
    assert "<em>this</em>" in html[2]
    body = response.content.decode()
    for text in HIDDEN:
        assert text not in body
    for email in EMAILS:
        assert email not in body
    assert "@" not in body and "mailto:" not in body
    if atom:
        entries = ET.fromstring(response.content).findall(f"{ATOM}entry")
        permalink = f"http://testserver{post.get_absolute_url()}"
        answered = [(e.find(f"{THR}in-reply-to").get("ref"), e.find(f"{THR}in-reply-to").get("href")) for e in entries]
        assert answered == [(permalink, permalink), (f"{permalink}#comment-{ada.pk}",) * 2, (permalink, permalink)]
        assert entries[1].findtext(f"{ATOM}author/{ATOM}uri") == "https://brian.example.org/"


def test_a_comment_links_to_the_comment_page_that_holds_it(post, discussion, settings):
    settings.ARCHIVE_COMMENTS_PER_PAGE = 1  # Ada's thread on page 1, the TrackBack on page 2 (the newest)
    client = Client()
    parsed = parse_feed(fetch(client, reverse("archive:post-comments-feed", args=[post.slug])))
    ada, brian, trackback = discussion["ada"], discussion["brian"], discussion["trackback"]
    older = "http://testserver" + reverse("archive:post-comments", args=[post.slug, 1])
    assert [e.link for e in parsed.entries] == [
        f"http://testserver{post.get_absolute_url()}#comment-{trackback.pk}",
        f"{older}#comment-{brian.pk}",
        f"{older}#comment-{ada.pk}",
    ]
    for entry in parsed.entries:
        follow(client, entry.link)
    # The guid stays the permalink's anchor, whichever page the comment moves to.
    assert [e.id for e in parsed.entries][1] == f"http://testserver{post.get_absolute_url()}#comment-{brian.pk}"


def test_feeds_send_the_last_public_change_as_last_modified(post, discussion, django_capture_on_commit_callbacks):
    earlier = timezone.now() - timedelta(hours=2)
    Post.objects.update(imported_at=earlier, updated_at=earlier)
    Comment.objects.update(created_at=earlier, modified_at=earlier)
    pagecache.invalidate()  # bulk updates tell nobody
    client = Client()
    for url in feed_urls(post):
        assert fetch(client, url)["Last-Modified"] == http_date(earlier.timestamp()), url
    with django_capture_on_commit_callbacks(execute=True):  # the page cache moves on when it commits
        moderation.set_status(Comment.objects.filter(pk=discussion["brian"].pk), Comment.Status.TRASH)
    removed = Comment.objects.get(pk=discussion["brian"].pk).modified_at
    for url in feed_urls(post):
        response = fetch(client, url)
        assert response["Last-Modified"] == http_date(removed.timestamp()), url
        assert "Brian answers." not in response.content.decode()


def test_feeds_answer_only_reads(post):
    client = Client(enforce_csrf_checks=True)
    for url in feed_urls(post):
        assert client.post(url).status_code == 405, url
    assert client.get("/no-such-post/feed/").status_code == 404
    assert client.get("/no-such-post/feed/atom/").status_code == 404
    assert client.head("/feed/").status_code == 200
