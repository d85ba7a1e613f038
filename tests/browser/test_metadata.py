"""The article's machine-readable metadata in Chromium: the JSON-LD block is data, so the strict CSP
(script-src 'self', no inline script) holds and Chromium reports no violation, with JavaScript on or off."""

from __future__ import annotations

import json

import pytest

from archive.models import Comment

from .helpers import TITLE, expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_the_json_ld_block_breaks_no_csp_rule(thread, open_page, js):
    page = open_page(thread.post.get_absolute_url(), js=js)
    block = page.locator('head script[type="application/ld+json"]')
    expect(block).to_have_count(1)
    data = json.loads(block.text_content())
    assert (data["@type"], data["headline"]) == ("Article", TITLE)
    assert data["commentCount"] == Comment.objects.public().filter(post=thread.post).count()
    response = page.request.get(thread.post.get_absolute_url())
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.watch.assert_clean()  # no CSP violation, console error or page error
