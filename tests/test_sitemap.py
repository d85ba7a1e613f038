"""/sitemap.xml read against the sitemaps.org protocol's rules, and /robots.txt read by protego (Scrapy's
robots.txt parser, which follows RFC 9309 and its `*` wildcard, as the search engines do)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.http import http_date, parse_http_date
from protego import Protego

from archive import moderation, policy
from archive.importing import import_file
from archive.models import Comment, Post

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).parent / "samples"
SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
URL_CHILDREN = {f"{SITEMAP_NS}{name}" for name in ("loc", "lastmod", "changefreq", "priority")}
CHANGEFREQ = {"always", "hourly", "daily", "weekly", "monthly", "yearly", "never"}
# W3C Datetime (https://www.w3.org/TR/NOTE-datetime), the formats the protocol allows for <lastmod>.
W3C_DATETIME = re.compile(r"\d{4}(-\d\d(-\d\d(T\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d))?)?)?")


def protocol_problems(body: bytes, sitemap_url: str) -> list[str]:
    """What https://www.sitemaps.org/protocol.html forbids, checked on the parsed document."""
    problems = []
    if len(body) > 50 * 1024 * 1024:
        problems.append("larger than 50 MB")
    root = ET.fromstring(body)
    if root.tag != f"{SITEMAP_NS}urlset":
        return [f"root element is {root.tag}, not urlset"]
    urls = root.findall(f"{SITEMAP_NS}url")
    if len(urls) > 50_000:
        problems.append(f"{len(urls)} URLs, more than 50,000")
    if len(root) != len(urls):
        problems.append("urlset holds elements other than <url>")
    base = urlsplit(sitemap_url)
    for url in urls:
        names = [child.tag for child in url]
        if names.count(f"{SITEMAP_NS}loc") != 1 or len(set(names)) != len(names) or not set(names) <= URL_CHILDREN:
            problems.append(f"a <url> with children {names}")
            continue
        loc = url.findtext(f"{SITEMAP_NS}loc")
        parts = urlsplit(loc)
        if len(loc) >= 2048 or (parts.scheme, parts.netloc) != (base.scheme, base.netloc) or loc != loc.strip():
            problems.append(f"<loc> {loc!r} is not an absolute URL of the sitemap's host under 2,048 characters")
        lastmod = url.findtext(f"{SITEMAP_NS}lastmod")
        if lastmod is not None and not W3C_DATETIME.fullmatch(lastmod):
            problems.append(f"<lastmod> {lastmod!r} is not a W3C Datetime")
        changefreq = url.findtext(f"{SITEMAP_NS}changefreq")
        if changefreq is not None and changefreq not in CHANGEFREQ:
            problems.append(f"<changefreq> {changefreq!r}")
        priority = url.findtext(f"{SITEMAP_NS}priority")
        if priority is not None and not 0 <= float(priority) <= 1:
            problems.append(f"<priority> {priority!r}")
    return problems


def test_the_checker_sees_protocol_errors():
    bad = (b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>/relative/</loc>'
           b"<lastmod>yesterday</lastmod></url></urlset>")  # fmt: skip
    assert len(protocol_problems(bad, "http://testserver/sitemap.xml")) == 2


def test_sitemap_lists_every_post_by_the_rules_and_every_location_answers(post):
    import_file(SAMPLES / "literal.txt")
    client = Client()
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    assert protocol_problems(response.content, "http://testserver/sitemap.xml") == []
    locs = [loc.text for loc in ET.fromstring(response.content).iter(f"{SITEMAP_NS}loc")]
    assert sorted(locs) == sorted(f"http://testserver{p.get_absolute_url()}" for p in Post.objects.all())
    for loc in locs:
        assert client.get(urlsplit(loc).path).status_code == 200, loc


def test_lastmod_is_the_latest_public_change_as_the_page_says_it(post, settings):
    settings.ARCHIVE_COMMENT_MODERATION = "open"
    settings.ARCHIVE_PAGE_CACHE = False
    earlier = timezone.now() - timedelta(days=3)
    Post.objects.update(imported_at=earlier, updated_at=earlier)
    client = Client()

    def lastmod() -> str:
        return ET.fromstring(client.get("/sitemap.xml").content).findtext(f"{SITEMAP_NS}url/{SITEMAP_NS}lastmod")

    assert lastmod() == earlier.date().isoformat()
    comment = policy.accept(policy.Candidate(post=post, author="Ada", email="ada@example.org", content="Later.",
                                             ip_address="127.0.0.1"))  # fmt: skip
    moderation.set_status(Comment.objects.filter(pk=comment.pk), Comment.Status.APPROVED)
    page_changed = datetime.fromtimestamp(parse_http_date(client.get(post.get_absolute_url())["Last-Modified"]), UTC)
    assert lastmod() == page_changed.date().isoformat() == timezone.now().date().isoformat()
    assert client.get("/sitemap.xml")["Last-Modified"] == http_date(Comment.objects.get().modified_at.timestamp())


def test_robots_txt_names_the_sitemap_and_keeps_crawlers_out_of_admin_and_post_only_urls(post):
    response = Client().get("/robots.txt")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    robots = Protego.parse(response.content.decode())
    assert list(robots.sitemaps) == ["http://testserver/sitemap.xml"]
    for path in ["/admin/", "/admin/archive/comment/", "/comments/post/", post.get_trackback_url()]:
        assert not robots.can_fetch(f"http://testserver{path}", "AnyBot"), path
    for path in ["/", post.get_absolute_url(), post.get_original_url(), "/feed/", "/sitemap.xml"]:
        assert robots.can_fetch(f"http://testserver{path}", "AnyBot"), path


def test_sitemap_and_robots_answer_only_reads():
    client = Client(enforce_csrf_checks=True)
    assert client.post("/sitemap.xml").status_code == 405
    assert client.post("/robots.txt").status_code == 405
