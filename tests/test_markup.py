"""Reply bodies (issue 3, rule 4): Markdown → HTML → bleach allowlist, proven on the rendered page with a real
HTML parse for a table of XSS vectors, plus unit tests of `markup.render_comment`."""

from __future__ import annotations

import html as html_module

import bleach
import pytest
from django.test import Client

from archive import markup
from archive.models import Comment
from tests.replyhelpers import (
    XSS_VECTORS,
    browser,
    comment_item,
    dangers,
    follow,
    is_site_avatar,
    open_rules,
    parse,
    redirected_id,
    scripts,
    submit,
)


@pytest.fixture(autouse=True)
def _rules(settings):
    open_rules(settings)


def fragment(text: str):
    return parse(markup.render_comment(text))


# --- Through the form: nothing a reader types runs in anyone's browser ----------------------------------------


def assert_page_is_inert(doc) -> None:
    """The page's own markup: scripts only from /static/, the reply form the only form, nothing else live."""
    for script in scripts(doc):
        assert (script.get("src") or "").startswith("/static/"), script
        assert script.text().strip() == ""
    forms = doc.find_all("form")
    assert [form.get("id") for form in forms] == ["commentform"]
    for el in doc.iter():
        for name, value in el.attr_list:
            assert not name.lower().startswith("on"), (el, name)
            assert name.lower() != "style", el
            if name in ("href", "src", "action") and value:
                squeezed = "".join(ch for ch in value if ord(ch) > 0x20).lower()
                assert not squeezed.startswith(("javascript:", "data:", "vbscript:")), (el, value)
        if is_site_avatar(el):
            continue
        assert el.tag not in {"iframe", "object", "embed", "svg", "img", "math", "base", "frame"}, el


@pytest.mark.parametrize("vector", XSS_VECTORS, ids=range(len(XSS_VECTORS)))
def test_xss_vector_posted_through_the_form_is_inert(post, vector):
    assert len(XSS_VECTORS) >= 20
    reader = browser()
    response = submit(reader, post, comment=vector)
    pk = redirected_id(response)
    # The author's own view: it shows the reply even when it was held for its links.
    page, doc = follow(reader, response)
    assert page.status_code == 200
    item = comment_item(doc, pk)
    assert item is not None, "the reply is not on the page"
    content = item.one("div", cls="comment-content")
    assert dangers(content) == []
    assert content.find("script") is None
    for link in content.find_all("a"):
        href = link.get("href")
        if href is not None:
            assert href.startswith(("http://", "https://", "mailto:")), href
            assert link.get("rel") == "nofollow ugc"
    assert_page_is_inert(doc)
    stored = Comment.objects.get(pk=pk)
    assert stored.content == vector.strip()
    assert dangers(parse(stored.content_html)) == []


def test_hostile_author_name_is_text(post):
    name = '<img src=x onerror=alert(1)>"><script>alert(2)</script>'
    response = submit(browser(), post, author=name, url='https://example.com/?q="><script>alert(3)</script>')
    pk = redirected_id(response)
    _, doc = follow(Client(), response)
    cite = comment_item(doc, pk).one("cite")
    assert cite.text() == name
    assert dangers(comment_item(doc, pk)) == []
    assert_page_is_inert(doc)
    reply_link = comment_item(doc, pk).one("a", cls="comment-reply-link")
    assert reply_link.get("data-replyto") == f"Reply to {name}"


def test_raw_html_is_shown_as_typed(post):
    response = submit(browser(), post, comment="Use <b>bold</b> & <i>italics</i>, not <blink>.")
    pk = redirected_id(response)
    _, doc = follow(Client(), response)
    content = comment_item(doc, pk).one("div", cls="comment-content")
    assert content.squashed_text() == "Use <b>bold</b> & <i>italics</i>, not <blink>."
    assert content.find("b") is None and content.find("i") is None


@pytest.mark.parametrize(
    "text",
    [
        "[" * 30000,
        "[x](" * 16000,
        "![" * 30000,
        "` [" * 20000,
        "a\n=\n" * 15000,
        "- " * 3000 + "deep",
        "> " * 3000 + "deep",
        "1. " * 3000 + "deep",
        "a.b-c_" * 10000,
        "(" * 60000,
        "http://a.com" + ")" * 50000,
    ],
    ids=[
        "brackets",
        "open-links",
        "images",
        "code-brackets",
        "setext",
        "lists",
        "quotes",
        "ordered",
        "dotted-run",
        "parens",
        "url-parens",
    ],
)
def test_pathological_replies_are_stored_and_shown(post, text):
    """Inputs that make Python-Markdown recurse too deep or backtrack quadratically (minutes, or a 500)
    fall back to plain paragraphs."""
    reader = browser()
    response = submit(reader, post, comment=text)
    pk = redirected_id(response)
    page, doc = follow(reader, response)
    assert page.status_code == 200
    content = comment_item(doc, pk).one("div", cls="comment-content")
    assert dangers(content) == []
    assert content.text().strip()
    assert Comment.objects.get(pk=pk).content == text.strip()


def test_a_reply_that_starts_with_an_indented_code_block_keeps_its_indent(post):
    """The form strips nothing at the start of a line: four spaces are Markdown's code block."""
    text = "    def f():\n        return 1\n\nThat was code."
    reader = browser()
    response = submit(reader, post, comment=text + "\n\n")
    pk = redirected_id(response)
    assert Comment.objects.get(pk=pk).content == text  # trailing blank lines go, the indent stays
    _, doc = follow(reader, response)
    code = comment_item(doc, pk).one("div", cls="comment-content").one("pre").one("code")
    assert code.text() == "def f():\n    return 1\n"


# --- markup.render_comment ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("**strong**", ["p", "strong"]),
        ("__strong__", ["p", "strong"]),
        ("*em*", ["p", "em"]),
        ("`code`", ["p", "code"]),
        ("> quoted", ["blockquote", "p"]),
        ("- one\n- two", ["ul", "li"]),
        ("1. one\n2. two", ["ol", "li"]),
        ("line one\nline two", ["p", "br"]),
        ("```\nblock\n```", ["pre", "code"]),
        ("    indented", ["pre", "code"]),
        ("[link](https://example.com/)", ["p", "a"]),
    ],
)
def test_allowed_tags_survive(text, path):
    node = fragment(text)
    for tag in path:
        node = node.find(tag)
        assert node is not None, (text, tag, markup.render_comment(text))


def test_only_the_allowlist_comes_out():
    text = "# Heading\n\n---\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nSetext\n======\n\n<div>x</div>"
    allowed = markup.ALLOWED_TAGS
    assert {el.tag for el in fragment(text).iter()} <= allowed
    assert fragment(text).find("h1") is None and fragment(text).find("hr") is None


def test_links_get_nofollow_ugc_and_keep_their_title():
    link = fragment('[site](https://example.com/page "A title")').one("a")
    assert link.attrs == {"href": "https://example.com/page", "title": "A title", "rel": "nofollow ugc"}


@pytest.mark.parametrize(
    ("text", "href", "shown"),
    [
        ("see https://example.com/a?b=1&c=2.", "https://example.com/a?b=1&c=2", "https://example.com/a?b=1&c=2"),
        ("(http://example.org/x)", "http://example.org/x", "http://example.org/x"),
        ("go to www.example.com, then", "http://www.example.com", "www.example.com"),
        ("<https://example.net/>", "https://example.net/", "https://example.net/"),
    ],
)
def test_bare_urls_are_linked(text, href, shown):
    link = fragment(text).one("a")
    assert link.get("href") == href
    assert link.get("rel") == "nofollow ugc"
    assert link.text() == shown


def test_words_that_only_look_like_domains_are_not_linked():
    assert fragment("the file readme.md and node.js").find("a") is None


def test_urls_in_code_are_not_linked():
    doc = fragment("`https://example.com/in-code`\n\n```\nhttps://example.com/in-block\n```")
    assert doc.find("a") is None
    assert "https://example.com/in-code" in doc.one("p").one("code").text()


@pytest.mark.parametrize(
    "text",
    ["[x](javascript:alert(1))", "[x](ftp://example.com/)", "[x](data:text/plain,hi)", "[x](file:///etc/passwd)"],
)
def test_other_schemes_lose_their_href(text):
    link = fragment(text).one("a")
    assert link.get("href") is None


def test_mailto_links_are_allowed():
    assert fragment("[write](mailto:me@example.com)").one("a").get("href") == "mailto:me@example.com"


def test_raw_html_is_escaped_not_parsed():
    html = markup.render_comment('<b>bold</b> <a href="/x" title=t>x</a> <script>alert(1)</script>')
    doc = parse(html)
    assert doc.find("b") is None and doc.find("a") is None and doc.find("script") is None
    assert doc.squashed_text() == '<b>bold</b> <a href="/x" title=t>x</a> <script>alert(1)</script>'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("`a < b && c`", "<p><code>a &lt; b &amp;&amp; c</code></p>"),
        ("`&amp;`", "<p><code>&amp;amp;</code></p>"),
        ("`<b>`", "<p><code>&lt;b&gt;</code></p>"),
        ("```\nif a < b:\n    x = '&lt;'\n```", "<pre><code>if a &lt; b:\n    x = '&amp;lt;'\n</code></pre>"),
    ],
)
def test_code_is_escaped_exactly_once(text, expected):
    assert markup.render_comment(text) == expected


@pytest.mark.parametrize(
    "text", ["![alt](https://example.com/a.png)", "![alt][i]\n\n[i]: https://example.com/a.png", "<img src=x>"]
)
def test_no_images(text):
    doc = fragment(text)
    assert doc.find("img") is None
    assert all(el.get("src") is None for el in doc.iter())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("![a chart](https://example.com/a.png)",
         '<p><a href="https://example.com/a.png" rel="nofollow ugc">a chart</a></p>'),
        ("![a chart][i]\n\n[i]: https://example.com/a.png",
         '<p><a href="https://example.com/a.png" rel="nofollow ugc">a chart</a></p>'),
        ("![a chart]\n\n[a chart]: https://example.com/a.png",
         '<p><a href="https://example.com/a.png" rel="nofollow ugc">a chart</a></p>'),
        ('![chart](https://example.com/a.png "Sales")',
         '<p><a href="https://example.com/a.png" title="Sales" rel="nofollow ugc">chart</a></p>'),
        ("![](https://example.com/a.png)",
         '<p><a href="https://example.com/a.png" rel="nofollow ugc">https://example.com/a.png</a></p>'),
        ("see ![pic](javascript:alert(1)) here", "<p>see <a>pic</a> here</p>"),
    ],
)  # fmt: skip
def test_an_image_is_its_alt_text_linked_to_its_address(text, expected):
    """No <img>: the page's CSP allows images from itself only and loads nothing from third parties."""
    assert markup.render_comment(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# Heading", "<p><strong>Heading</strong></p>"),
        ("###### Small *and* `code`", "<p><strong>Small <em>and</em> <code>code</code></strong></p>"),
        ("Setext\n======\n\nafter", "<p><strong>Setext</strong></p>\n<p>after</p>"),
        ("Setext two\n----------", "<p><strong>Setext two</strong></p>"),
    ],
)
def test_headings_become_strong_paragraphs(text, expected):
    assert markup.render_comment(text) == expected


def test_no_style_or_class_attributes():
    doc = fragment("```python\ncode\n```\n\n*x*")
    for el in doc.iter():
        assert set(el.attrs) <= {"href", "title", "rel", "cite", "datetime"}, el


def test_render_is_the_same_every_time_and_forgets_references():
    with_reference = "[ref]\n\n[ref]: https://example.com/"
    assert fragment(with_reference).one("a").get("href") == "https://example.com/"
    assert fragment("[ref]").find("a") is None  # a definition from the previous reply must not leak
    assert markup.render_comment("*same*") == markup.render_comment("*same*") == "<p><em>same</em></p>"


def test_count_links_counts_typed_and_bare_links():
    assert markup.count_links(markup.render_comment("no links")) == 0
    assert markup.count_links(markup.render_comment("[a](https://a.example.com/) and https://b.example.com/")) == 2
    assert markup.count_links(markup.render_comment("[bad](javascript:alert(1))")) == 0


def test_plain_text_drops_tags_and_decodes_entities():
    assert markup.plain_text("Putin&#8217;s <b>war</b><script>x()</script>") == "Putin’s war"


def test_pathological_text_falls_back_to_literal_paragraphs():
    html = markup.render_comment("[" * 20000 + "\n\nnext https://example.com/")
    doc = parse(html)
    paragraphs = doc.find_all("p")
    assert len(paragraphs) == 2
    assert paragraphs[0].text() == "[" * 20000
    assert paragraphs[1].one("a").get("rel") == "nofollow ugc"


def test_deep_nesting_does_not_raise_nor_break_later_replies():
    html = markup.render_comment("- " * 5000 + "bottom")
    assert "bottom" in parse(html).text()
    assert markup.render_comment("**after**") == "<p><strong>after</strong></p>"


def test_a_pathological_reply_does_not_break_the_next_ones(post):
    redirected_id(submit(browser(), post, comment="- " * 3000 + "deep"))
    response = submit(browser(), post, comment="Then **bold** and `code`.")
    pk = redirected_id(response)
    _, doc = follow(Client(), response)
    content = comment_item(doc, pk).one("div", cls="comment-content")
    assert content.one("strong").text() == "bold"
    assert content.one("code").text() == "code"


@pytest.mark.parametrize(
    "html",
    [
        "<script>alert(1)</script>",
        "<p onclick=alert(1)>x</p>",
        "<b ONMOUSEOVER=alert(1)>x</b>",
        '<a href=" jav&#x61;script:alert(1)">x</a>',
        '<a href="JAVA\tSCRIPT:alert(1)">x</a>',
        '<a href="data:text/html,x">x</a>',
        '<a href="vbscript:x">x</a>',
        '<p style="color:red">x</p>',
        "<iframe></iframe>",
        "<object></object>",
        "<embed>",
        "<form></form>",
        "<svg></svg>",
        "<img src=https://example.com/a.png>",
    ],
)
def test_the_inertness_check_itself_catches_each_danger(html):
    """The oracle the XSS table relies on: each of these must be reported."""
    assert dangers(parse(html)) != []


def test_the_inertness_check_accepts_what_replies_may_hold():
    html = '<p><a href="https://example.com/" rel="nofollow ugc" title="t">x</a> <q cite="https://e.com/">q</q></p>'
    assert dangers(parse(html)) == []


def parsed_plain_text(fragment: str) -> str:
    """plain_text's slow path, run always: what html5lib (through bleach) makes of the fragment."""
    without_code = markup.SCRIPT_OR_STYLE.sub("", fragment)
    return html_module.unescape(bleach.clean(without_code, tags=set(), strip=True, strip_comments=True))


def test_plain_text_skips_the_parser_only_for_text_it_would_give_back_unchanged():
    # Every code point the shortcut lets through, in runs between letters: what plain_text gives back unparsed
    # must be exactly what parsing gives.
    points = [chr(c) for c in range(0x110000) if not markup.NOT_PLAIN.search(chr(c))]
    for start in range(0, len(points), 4000):
        run = "a".join(points[start : start + 4000])
        assert markup.plain_text(run) == parsed_plain_text(run), hex(start)
    for fragment in ("\ufeffBOM first", "line\r\nbreak", "nul\x00here", "a > b", 'say "hi"', "", " "):
        assert markup.plain_text(fragment) == parsed_plain_text(fragment)
