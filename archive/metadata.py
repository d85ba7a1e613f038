"""What the article page tells machines about itself: the Open Graph description and the schema.org JSON-LD.

Only what is known is said. The seed has no author and no publication date, so neither appears; the
import is `dateCreated` (when this copy came to be) and the original text is what the copy `isBasedOn`.
No HTTP here: the template tags in templatetags/metadata.py make the URLs absolute.
"""

from __future__ import annotations

import json

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator

from .models import Post

DESCRIPTION_CHARS = 300
# What json_script escapes, so that no title can close the <script> element or open a comment in it.
SCRIPT_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


def description(post: Post) -> str:
    """The first paragraph, on one line, cut at a word near DESCRIPTION_CHARS: Open Graph's summary."""
    first = next((block.text for block in post.blocks if block.kind == "p"), "")
    return Truncator(" ".join(first.split())).chars(DESCRIPTION_CHARS)


def article(post: Post, url: str, original_url: str, comment_count: int) -> dict:
    """schema.org's Article for the archived copy; an imported post also says when and by whom it was
    published (a seed knows neither)."""
    known = {}
    if post.published_at:
        known["datePublished"] = post.published_at.isoformat()
    if post.author_name:
        known["author"] = {"@type": "Person", "name": post.author_name}
    return {
        **known,
        "@context": "https://schema.org",
        "@type": "Article",
        "headline": post.title,
        "url": url,
        "mainEntityOfPage": url,
        "description": description(post),
        "commentCount": comment_count,
        "isBasedOn": original_url,
        "dateCreated": post.imported_at.isoformat(),
    }


def json_ld_script(data: dict) -> SafeString:
    """A `<script type="application/ld+json">` data block (not script: CSP's script-src never applies), its
    JSON escaped as Django's json_script escapes it, which only knows type="application/json"."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True).translate(SCRIPT_ESCAPES)
    return format_html('<script type="application/ld+json">{}</script>', mark_safe(text))  # noqa: S308
