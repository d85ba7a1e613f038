"""The only place that turns untrusted text into HTML. Markdown and bleach are called here and nowhere else.

Replies are written in Markdown; raw HTML in them is shown as text, never parsed. The Markdown output is
then cut down to WordPress's comment tags plus what Markdown needs for paragraphs, lists and code, and
every link gets rel="nofollow ugc". Run once when a reply is saved (and again by `rerender_comments`).
"""

from __future__ import annotations

import html
import re
import threading
from functools import partial
from xml.etree import ElementTree as etree

import bleach
import markdown
from bleach.html5lib_shim import Filter
from bleach.linkifier import LinkifyFilter
from markdown.treeprocessors import Treeprocessor

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
# What makes html5lib change a text: markup, entities, and the C0 controls it rewrites or drops (CR among
# them) — tab and newline excepted. Text without any is its own plain text (tests/test_markup.py tries every
# code point).
NOT_PLAIN = re.compile(r"[<&\x00-\x08\x0b-\x1f]")
# Bare URLs are linked as WordPress's make_clickable links them: what starts with http(s):// or www.
# bleach's own URL and email patterns backtrack quadratically on long runs such as "a.b-c_a.b-c_…" or
# "((((…" (minutes for one 64 KB reply); this one starts only where a word starts and is bounded.
BARE_URL = re.compile(r"""(?<![\w/@.-])(?:https?://|www\.)[^\s<>"'`{}|\\^\[\]]{1,2000}""", re.IGNORECASE)
# Python-Markdown's link and setext-heading parsing is quadratic ("[" repeated 30 000 times takes minutes):
# past these budgets a reply is shown as plain paragraphs instead, which costs linear time.
MAX_MARKDOWN_LINES = 3000
MAX_BRACKET_WORK = 2_000_000  # sum over blocks of ("[" in the block) × (length of the block)


HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})

_local = threading.local()


class ReplyShapes(Treeprocessor):
    """What a reply may not show as itself, reshaped before bleach would drop it (and its text with it):
    an image becomes its alt text linked to its address (no <img>: the CSP allows images from this site
    only, and a reader's page loads nothing from third parties); a heading becomes a paragraph in <strong>
    (a reply's heading must not outrank the article's)."""

    def run(self, root: etree.Element) -> None:
        for element in list(root.iter()):
            if element.tag == "img":
                address, title = element.get("src", ""), element.get("title")
                element.text = element.get("alt") or address
                element.attrib.clear()
                element.tag = "a"
                element.set("href", address)
                if title:
                    element.set("title", title)
            elif element.tag in HEADINGS:
                strong = etree.Element("strong")
                strong.text, element.text = element.text, None
                for child in list(element):
                    element.remove(child)
                    strong.append(child)
                element.attrib.clear()
                element.tag = "p"
                element.append(strong)


def _markdown() -> markdown.Markdown:
    """One converter per thread (building one compiles dozens of patterns; sharing one is not safe)."""
    md = getattr(_local, "markdown", None)
    if md is None:
        md = markdown.Markdown(extensions=["nl2br", "sane_lists", "fenced_code"], output_format="html")
        # Raw HTML is text in a reply: without these two processors Markdown escapes it like any other text.
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.treeprocessors.register(ReplyShapes(md), "reply_shapes", 15)  # after "inline" (20): images exist
        _local.markdown = md
    return md.reset()


def _set_rel(attrs: dict, new: bool = False) -> dict:
    """bleach's linkify callback: every link with an href, typed or found bare, gets our rel."""
    if attrs.get((None, "href")):
        attrs[(None, "rel")] = LINK_REL
    return attrs


def _cleaner() -> bleach.Cleaner:
    """One cleaner per thread as well: a Cleaner keeps its parser's state between calls, so two threads
    sharing one (granian runs a worker's requests on several) swap or garble each other's replies."""
    cleaner = getattr(_local, "cleaner", None)
    if cleaner is None:
        # Linkifying inside the cleaner (not with bleach.linkify afterwards) keeps code spans escaped once.
        cleaner = bleach.Cleaner(
            tags=ALLOWED_TAGS,
            attributes=ALLOWED_ATTRIBUTES,
            protocols=ALLOWED_PROTOCOLS,
            strip=True,
            filters=[partial(LinkifyFilter, callbacks=[_set_rel], skip_tags={"pre", "code"}, url_re=BARE_URL)],
        )
        _local.cleaner = cleaner
    return cleaner


def _too_costly(text: str) -> bool:
    text = text.replace("\r\n", "\n")
    if text.count("\n") > MAX_MARKDOWN_LINES:
        return True
    return sum(block.count("[") * len(block) for block in text.split("\n\n")) > MAX_BRACKET_WORK


def _plain_paragraphs(text: str) -> str:
    """The reply as paragraphs and line breaks with every character literal: Markdown's linear fallback."""
    blocks = text.replace("\r\n", "\n").split("\n\n")
    return "\n".join(
        "<p>" + "<br>\n".join(html.escape(line, quote=False) for line in block.strip("\n").split("\n")) + "</p>"
        for block in blocks
        if block.strip()
    )


def _discard_converters() -> None:
    """A converter interrupted half-way keeps broken state (after a RecursionError it returns its input
    unconverted from then on): this thread builds new ones on its next call."""
    for name in ("markdown", "cleaner", "post_cleaner", "imported_comment_cleaner"):
        vars(_local).pop(name, None)


def render_comment(text: str) -> str:
    """Reply text (Markdown) → HTML that is safe to place in a page as it is."""
    if _too_costly(text):
        return _cleaner().clean(_plain_paragraphs(text))
    try:
        return _cleaner().clean(_markdown().convert(text))
    except RecursionError:  # lists or quotes nested hundreds deep
        _discard_converters()
        return _cleaner().clean(_plain_paragraphs(text))
    except BaseException:
        _discard_converters()
        raise


def count_links(rendered: str) -> int:
    """Links in rendered HTML, bare URLs included once linkified: WordPress's moderation counts these."""
    return len(LINK_PATTERN.findall(rendered))


def count_bare_links(text: str) -> int:
    """Addresses in plain text that would be linked (http(s)://… and www.…), as `make_clickable` finds them."""
    return len(BARE_URL.findall(text))


def plain_text(fragment: str) -> str:
    """The text of a fragment of untrusted HTML: tags (and what script/style hold) dropped, then entities
    decoded, so `Putin&#8217;s <b>war</b>` becomes `Putin’s war`. Escape it again on output."""
    if not NOT_PLAIN.search(fragment):
        return fragment  # what the parser would give back unchanged, without parsing (most pings' fields)
    without_code = SCRIPT_OR_STYLE.sub("", fragment)
    return html.unescape(bleach.clean(without_code, tags=set(), strip=True, strip_comments=True))


# --- Imported WordPress HTML (posts and comments from a WXR export) ---------------------------------------

POST_TAGS = ALLOWED_TAGS | HEADINGS | frozenset(
    {
        # what WordPress's editors write into post content (kses's $allowedposttags, less forms and media)
        "hr", "sub", "sup", "small", "mark", "ins", "kbd", "samp", "var", "span", "div", "address", "dl", "dt",
        "dd", "figure", "figcaption", "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td", "time",
    }
)  # fmt: skip
POST_ATTRIBUTES = {
    **ALLOWED_ATTRIBUTES,
    "a": ["href", "title"],
    "ins": ["datetime"],
    "time": ["datetime"],
    "ol": ["start", "reversed"],
    "th": ["colspan", "rowspan", "scope"],
    "td": ["colspan", "rowspan"],
}
BLOCK_START = re.compile(
    r"^\s*<(?:p|div|h[1-6]|ul|ol|dl|li|table|thead|tbody|tr|blockquote|pre|figure|hr|address|!--)[\s>/]",
    re.IGNORECASE,
)
HTML_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
PRE_BLOCK = re.compile(r"(<pre\b.*?</pre\s*>)", re.IGNORECASE | re.DOTALL)


class ImagesAsLinks(Filter):
    """After sanitising: an <img> becomes its alt text linked to its (already checked) address. The CSP
    allows images from this site only, and an archived page must load nothing from the old blog's host."""

    def __iter__(self):
        for token in super().__iter__():
            if token.get("name") != "img":
                yield token
                continue
            attrs = token.get("data", {})
            src, alt = attrs.get((None, "src"), ""), attrs.get((None, "alt"), "")
            if src:
                yield {"type": "StartTag", "name": "a", "data": {(None, "href"): src}}
            if alt or src:
                yield {"type": "Characters", "data": alt or src}
            if src:
                yield {"type": "EndTag", "name": "a", "data": {}}


def autop(text: str) -> str:
    """WordPress's wpautop, in its main rule: blank lines part paragraphs, single line breaks become <br>,
    blocks that already start with a block tag and <pre> are left alone. HTML comments (the block editor's
    `<!-- wp:… -->` markers) go first, so the block editor's content, all in block tags already, passes as it
    is, and running it twice changes nothing (an export read back gives the same page)."""
    pieces = PRE_BLOCK.split(text.replace("\r\n", "\n").replace("\r", "\n"))
    out = []
    for index, piece in enumerate(pieces):
        if index % 2:  # a <pre> block, kept as written
            out.append(piece)
            continue
        for block in re.split(r"\n\s*\n", HTML_COMMENT.sub("", piece)):
            block = block.strip("\n")
            if not block.strip():
                continue
            if BLOCK_START.match(block):
                out.append(block)
            else:
                out.append("<p>" + block.replace("\n", "<br />\n") + "</p>")
    return "\n".join(out)


def _imported_cleaner(name: str, tags: frozenset[str], attributes: dict, filters: list) -> bleach.Cleaner:
    """The cleaners of imported HTML (per thread, as the reply cleaner): images allowed in only to leave as
    links (ImagesAsLinks), comments and script dropped."""
    cleaner = getattr(_local, name, None)
    if cleaner is None:
        cleaner = bleach.Cleaner(
            tags=tags | {"img"},
            attributes={**attributes, "img": ["src", "alt", "title"]},
            protocols=ALLOWED_PROTOCOLS,
            strip=True,
            strip_comments=True,
            filters=[ImagesAsLinks, *filters],
        )
        setattr(_local, name, cleaner)
    return cleaner


def render_post_html(fragment: str) -> str:
    """A post's content:encoded → HTML safe to place in the page. Shortcodes ([gallery], [caption]…) are
    plain text to bleach, so they show as written and never run."""
    cleaner = _imported_cleaner("post_cleaner", POST_TAGS, POST_ATTRIBUTES, [])
    return cleaner.clean(autop(SCRIPT_OR_STYLE.sub("", fragment))).strip()


def render_imported_comment(fragment: str) -> str:
    """An imported comment's HTML (WordPress stored it after its own kses filter) → the reply allowlist,
    paragraphed as WordPress shows comments; bare addresses linked as make_clickable does."""
    linkify = partial(LinkifyFilter, callbacks=[_set_rel], skip_tags={"pre", "code"}, url_re=BARE_URL)
    cleaner = _imported_cleaner("imported_comment_cleaner", ALLOWED_TAGS, ALLOWED_ATTRIBUTES, [linkify])
    return cleaner.clean(autop(SCRIPT_OR_STYLE.sub("", fragment))).strip()
