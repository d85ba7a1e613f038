"""The only place that turns untrusted text into HTML. Markdown and bleach are called here and nowhere else.

Replies are written in Markdown; raw HTML in them is shown as text, never parsed. The Markdown output is
then cut down to WordPress's comment tags plus what Markdown needs for paragraphs, lists and code, and
every link gets rel="nofollow ugc". Run once when a reply is saved (and again by `rerender_comments`).
"""

from __future__ import annotations

import html
import re
from functools import partial

import bleach
import markdown
from bleach.linkifier import LinkifyFilter

ALLOWED_TAGS = frozenset(
    {
        # WordPress's $allowedtags for comments
        "a", "abbr", "acronym", "b", "blockquote", "cite", "code", "del", "em", "i", "q", "s", "strike",
        "strong",
        # what Markdown emits for paragraphs, line breaks, lists and code blocks
        "p", "br", "ul", "ol", "li", "pre",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": ["href", "title", "rel"],
    "abbr": ["title"],
    "acronym": ["title"],
    "blockquote": ["cite"],
    "q": ["cite"],
    "del": ["datetime"],
}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow ugc"
LINK_PATTERN = re.compile(r"<a\s[^>]*href=", re.IGNORECASE)
SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b.*?(</\1\s*>|$)", re.IGNORECASE | re.DOTALL)


def _markdown() -> markdown.Markdown:
    md = markdown.Markdown(extensions=["nl2br", "sane_lists", "fenced_code"], output_format="html")
    # Raw HTML is text in a reply: without these two processors Markdown escapes it like any other text.
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    return md


def _set_rel(attrs: dict, new: bool = False) -> dict:
    """bleach's linkify callback: every link with an href, typed or found bare, gets our rel."""
    if attrs.get((None, "href")):
        attrs[(None, "rel")] = LINK_REL
    return attrs


# Linkifying inside the cleaner (not with bleach.linkify afterwards) keeps code spans escaped once.
_cleaner = bleach.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=ALLOWED_ATTRIBUTES,
    protocols=ALLOWED_PROTOCOLS,
    strip=True,
    filters=[partial(LinkifyFilter, callbacks=[_set_rel], skip_tags={"pre", "code"}, parse_email=True)],
)


def render_comment(text: str) -> str:
    """Reply text (Markdown) → HTML that is safe to place in a page as it is."""
    return _cleaner.clean(_markdown().convert(text))


def count_links(html: str) -> int:
    """Links in rendered HTML, bare URLs included once linkified: WordPress's moderation counts these."""
    return len(LINK_PATTERN.findall(html))


def plain_text(fragment: str) -> str:
    """The text of a fragment of untrusted HTML: tags (and what script/style hold) dropped, then entities
    decoded, so `Putin&#8217;s <b>war</b>` becomes `Putin’s war`. Escape it again on output."""
    without_code = SCRIPT_OR_STYLE.sub("", fragment)
    return html.unescape(bleach.clean(without_code, tags=set(), strip=True, strip_comments=True))
