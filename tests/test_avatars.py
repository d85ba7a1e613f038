"""Avatars made here (issue 13, item 6): deterministic per email, keyed (no plain hash of the address on the
page), served as an immutable SVG from this site, and no query per avatar."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client

from archive import avatars
from tests.ping_helpers import SourceSite
from tests.replyhelpers import make_comment, parse


def test_the_same_email_gives_the_same_avatar_and_others_differ(settings):
    one = avatars.digest("Ada@Example.org ")
    assert one == avatars.digest("ada@example.org") and avatars.DIGEST.fullmatch(one)
    assert one != avatars.digest("brian@example.org")
    assert avatars.identicon_svg(one) == avatars.identicon_svg(avatars.digest("ada@example.org"))
    assert avatars.identicon_svg(one) != avatars.identicon_svg(avatars.digest("brian@example.org"))
    settings.SECRET_KEY = "another key entirely, for this test"
    assert avatars.digest("ada@example.org") != one  # keyed: without the key, no address can be tested


def test_the_thread_shows_local_avatars_and_leaks_no_email_digest(post):
    email = "ada@example.org"
    comment = make_comment(post, author="Ada", email=email)
    page = Client().get(post.get_absolute_url())
    body = page.content.decode()
    img = parse(page.content).one("li", id=f"comment-{comment.pk}").one("img")
    assert img.get("alt") == "" and img.get("width") == "48"
    assert img.get("src") == f"/avatars/{avatars.digest(email)}.svg"
    for plain in (hashlib.md5(email.encode()).hexdigest(), hashlib.sha256(email.encode()).hexdigest(), email):
        assert plain not in body
    assert "gravatar" not in body


def test_the_avatar_is_an_immutable_svg(db):
    digest = avatars.digest("ada@example.org")
    response = Client().get(f"/avatars/{digest}.svg")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.content.startswith(b"<svg") and b"<script" not in response.content
    assert Client().get("/avatars/not-a-digest.svg").status_code == 404
    assert Client().post(f"/avatars/{digest}.svg").status_code == 405


@pytest.mark.parametrize("count", [1, 20])
def test_no_query_per_avatar(post, count, django_assert_max_num_queries, settings):
    settings.ARCHIVE_PAGE_CACHE = False
    for n in range(count):
        make_comment(post, email=f"reader{n}@example.org")
    with django_assert_max_num_queries(5):
        assert Client().get(post.get_absolute_url()).status_code == 200


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64  # the bytes are passed through, not decoded


@pytest.fixture
def gravatar(settings):
    """A stand-in for Gravatar on 127.0.0.1: one picture, 404 (d=404) for every other hash."""
    with SourceSite() as site:
        settings.ARCHIVE_AVATARS = "gravatar"
        settings.ARCHIVE_GRAVATAR_URL = site.url("/avatar/")
        settings.ARCHIVE_FETCH_ALLOW_PRIVATE = True
        yield site


def test_gravatar_is_fetched_by_this_site_once_and_served_from_here(post, gravatar):
    email = "ada@example.org"
    known = hashlib.md5(email.encode(), usedforsecurity=False).hexdigest()
    gravatar.page(f"/avatar/{known}", PNG, content_type="image/png")
    comment = make_comment(post, author="Ada", email=email)
    page = Client().get(post.get_absolute_url())
    src = parse(page.content).one("li", id=f"comment-{comment.pk}").one("img").get("src")
    assert src.startswith("/avatars/gravatar/") and "gravatar.com" not in page.content.decode()
    assert "img-src 'self'" in page["Content-Security-Policy"]
    for _ in range(2):
        picture = Client().get(src)
        assert picture.status_code == 200 and picture.content == PNG
        assert picture["Content-Type"] == "image/png" and picture["Cache-Control"] == "public, max-age=86400"
    fetched = [path for method, path, _ in gravatar.requests if method == "GET"]
    assert fetched == [f"/avatar/{known}?s=96&d=404"]  # once: the second came from the cache


def test_no_gravatar_or_no_answer_gives_the_generated_picture(post, gravatar):
    for email in ("nobody@example.org", "brian@example.org"):
        make_comment(post, author="B", email=email)
    gravatar.page("/avatar/" + hashlib.md5(b"brian@example.org", usedforsecurity=False).hexdigest(),
                  b"<html>not a picture</html>")  # fmt: skip
    srcs = [img.get("src") for img in parse(Client().get(post.get_absolute_url()).content).find_all("img")]
    assert len(srcs) == 2
    for src in srcs:
        picture = Client().get(src)
        assert picture.status_code == 200 and picture["Content-Type"] == "image/svg+xml"
        assert picture.content.startswith(b"<svg")
    # Gravatar gone: a hash never fetched still gets a picture, never a 500.
    gravatar.server.shutdown()
    gravatar.server.server_close()
    make_comment(post, author="C", email="carol@example.org")
    last = parse(Client().get(post.get_absolute_url()).content).find_all("img")[-1].get("src")
    assert Client().get(last).status_code == 200


def test_the_proxy_fetches_only_hashes_this_site_signed(db, gravatar):
    forged = "0" * 32 + ":notasignature"
    assert Client().get(f"/avatars/gravatar/{forged}/").status_code == 404
    assert gravatar.requests == []
