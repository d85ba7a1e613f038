"""What the pages tell machines, read back with real extractors: feed autodiscovery and microformats2 with
mf2py (the IndieWeb's parser, as Webmention senders use it), JSON-LD and Open Graph with extruct."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import extruct
import lxml.html
import mf2py
import pytest
from django.test import Client

from archive.importing import import_file
from archive.models import Comment, Post
from tests.feedcheck import make_discussion

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).parent / "samples"
SITE_FEEDS = {
    "http://testserver/feed/": "application/rss+xml",
    "http://testserver/feed/atom/": "application/atom+xml",
    "http://testserver/comments/feed/": "application/rss+xml",
    "http://testserver/comments/feed/atom/": "application/atom+xml",
}
FEED_TYPES = {"application/rss+xml", "application/atom+xml"}


@pytest.fixture
def discussion(post, settings) -> dict[str, Comment]:
    return make_discussion(post, settings)


def page(client: Client, path: str) -> tuple[str, str]:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.content.decode(), f"http://testserver{path}"


def advertised_feeds(html: str, url: str) -> dict[str, str]:
    """{feed URL: type} of the page's <link rel="alternate"> feeds, as mf2py reads them."""
    rels = mf2py.parse(doc=html, url=url)["rel-urls"]
    return {href: rel["type"] for href, rel in rels.items()
            if "alternate" in rel["rels"] and rel.get("type") in FEED_TYPES}


def test_every_page_advertises_the_site_feeds_and_the_article_its_own(post):
    client = Client()
    index = advertised_feeds(*page(client, "/"))
    assert index == SITE_FEEDS
    article = advertised_feeds(*page(client, post.get_absolute_url()))
    own = {
        f"http://testserver{post.get_absolute_url()}feed/": "application/rss+xml",
        f"http://testserver{post.get_absolute_url()}feed/atom/": "application/atom+xml",
    }
    assert article == {**SITE_FEEDS, **own}
    for href, kind in article.items():
        response = client.get(urlsplit(href).path)
        assert response.status_code == 200, href
        assert response["Content-Type"] == f"{kind}; charset=utf-8", href


def test_article_json_ld_says_what_is_known_and_nothing_more(post, discussion):
    html, url = page(Client(), post.get_absolute_url())
    [data] = extruct.extract(html, base_url=url, syntaxes=["json-ld"])["json-ld"]
    assert data["@context"] == "https://schema.org" and data["@type"] == "Article"
    assert data["headline"] == post.title
    assert data["url"] == data["mainEntityOfPage"] == url
    assert data["commentCount"] == 3  # Ada, Brian, the TrackBack: not the held, spam or trashed reply
    assert data["isBasedOn"] == f"http://testserver{post.get_original_url()}"
    assert Client().get(post.get_original_url()).content == bytes(post.original)
    assert data["dateCreated"] == post.imported_at.isoformat()
    assert not {"author", "datePublished", "publisher"} & set(data)


def test_json_ld_cannot_be_broken_out_of(tmp_path, db):
    title = '</script><script>alert("x")</script><!-- & “quoted”'
    seed = tmp_path / "breakout.txt"
    seed.write_text(f"{title}\n\nA paragraph.\n", encoding="utf-8")
    assert not import_file(seed).failed
    post = Post.objects.get(source_name="breakout.txt")
    html, url = page(Client(), post.get_absolute_url())
    [data] = extruct.extract(html, base_url=url, syntaxes=["json-ld"])["json-ld"]
    assert data["headline"] == title
    scripts = lxml.html.document_fromstring(html).xpath("//script")
    assert [s.get("type") for s in scripts if not s.get("src")] == ["application/ld+json"]  # no inline script


def test_open_graph_names_the_article(post):
    html, url = page(Client(), post.get_absolute_url())
    [og] = extruct.extract(html, base_url=url, syntaxes=["opengraph"], uniform=True)["opengraph"]
    first_paragraph = next(b.text for b in post.blocks if b.kind == "p")
    assert og["@type"] == "article"
    assert og["og:title"] == post.title
    assert og["og:url"] == url
    assert og["og:description"] == first_paragraph  # 251 characters: under the 300 it is cut at
    assert og["og:site_name"] == "The Archive"
    canonical = lxml.html.document_fromstring(html, base_url=url)
    canonical.make_links_absolute()
    assert canonical.xpath("//link[@rel='canonical']/@href") == [url]


def test_a_long_first_paragraph_is_cut_for_open_graph(tmp_path, db):
    seed = tmp_path / "long.txt"
    seed.write_text("Long\n\n" + "word " * 100 + "\n\nSecond.\n", encoding="utf-8")
    assert not import_file(seed).failed
    html, url = page(Client(), Post.objects.get(source_name="long.txt").get_absolute_url())
    [og] = extruct.extract(html, base_url=url, syntaxes=["opengraph"], uniform=True)["opengraph"]
    assert len(og["og:description"]) == 300 and og["og:description"].endswith("…")


def test_microformats_make_the_article_and_each_response_an_h_entry(db, settings):
    assert not import_file(SAMPLES / "literal.txt").failed
    post = Post.objects.get(source_name="literal.txt")
    responses = make_discussion(post, settings)
    html, url = page(Client(), post.get_absolute_url())
    article, *comments = mf2py.parse(doc=html, url=url)["items"]
    assert article["type"] == ["h-entry"]
    assert article["properties"]["name"] == [post.title]
    assert article["properties"]["url"] == [url]
    text = article["properties"]["content"][0]["value"]
    assert "A <b>tag</b> and a <script>alert(1)</script> stay text." in text
    assert "Fish & chips &amp; an entity stay text." in text
    assert "*Not emphasis*, only stars." in text
    assert not {"published", "author"} & set(article["properties"])  # neither is known
    ada, brian, trackback = (responses[name] for name in ("ada", "brian", "trackback"))
    assert [c["type"] for c in comments] == [["h-entry"]] * 3  # held, spam and trash are not on the page
    by_url = {c["properties"]["url"][0]: c["properties"] for c in comments}
    assert set(by_url) == {f"{url}#comment-{c.pk}" for c in (ada, brian, trackback)}
    for comment in (ada, brian, trackback):
        props = by_url[f"{url}#comment-{comment.pk}"]
        [author] = props["author"]
        assert author["type"] == ["h-card"]
        assert author["properties"]["name"] == [comment.display_author]
        [published] = props["published"]
        assert datetime.strptime(published, "%Y-%m-%dT%H:%M:%S%z") == comment.created_at.replace(microsecond=0)
    assert by_url[f"{url}#comment-{brian.pk}"]["author"][0]["properties"]["url"] == ["https://brian.example.org/"]
    assert by_url[f"{url}#comment-{ada.pk}"]["content"][0]["value"] == "Ada says this & <b>that</b>."
    assert "An excerpt that links here." in by_url[f"{url}#comment-{trackback.pk}"]["content"][0]["value"]
