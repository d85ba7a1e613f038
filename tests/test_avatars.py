"""Avatars made here (issue 13, item 6): deterministic per email, keyed (no plain hash of the address on the
page), served as an immutable SVG from this site, and no query per avatar."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client

from archive import avatars
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
