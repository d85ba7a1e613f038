"""The pages as a reader's browser gets them: index, permalink, raw original, 404 and 405.

HTML is read with a small tree builder on Python's html.parser (below), so that structure — which element
holds what — is checked, not just substrings.
"""

import base64
import hashlib
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from archive.importing import import_file
from archive.models import Comment, Post
from tests.replyhelpers import make_comment
from tests.test_seeds import CHROME, LITERAL_LINES, LITERAL_MULTILINE, SUBHEADINGS, file_article

SAMPLES = Path(__file__).parent / "samples"

pytestmark = pytest.mark.django_db

# --- a small HTML tree ----------------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag, attrs=(), parent=None):
        self.tag = tag
        self.attrs = {name: ("" if value is None else value) for name, value in attrs}
        self.parent = parent
        self.children = []  # Nodes and strings

    def __repr__(self):
        return f"<{self.tag} {self.attrs}>"

    @property
    def elements(self):
        return [child for child in self.children if isinstance(child, Node)]

    def iter(self):
        for child in self.elements:
            yield child
            yield from child.iter()

    def find_all(self, tag=None, class_=None, **attrs):
        return [
            node
            for node in self.iter()
            if (tag is None or node.tag == tag)
            and (class_ is None or class_ in node.attrs.get("class", "").split())
            and all(node.attrs.get(name) == value for name, value in attrs.items())
        ]

    def find(self, tag=None, class_=None, **attrs):
        found = self.find_all(tag, class_, **attrs)
        return found[0] if found else None

    def one(self, tag=None, class_=None, **attrs):
        found = self.find_all(tag, class_, **attrs)
        assert len(found) == 1, f"expected one {tag} {class_} {attrs}, found {len(found)}"
        return found[0]

    def by_id(self, element_id):
        return self.one(id=element_id)

    def text(self, visible_only=False):
        if visible_only and "hidden" in self.attrs:
            return ""
        return "".join(child if isinstance(child, str) else child.text(visible_only) for child in self.children)

    def words(self, visible_only=False):
        """Text with runs of white space made one space, as a browser lays out normal text."""
        return " ".join(self.text(visible_only).split())

    def contains(self, node):
        while node is not None:
            if node is self:
                return True
            node = node.parent
        return False


class TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document")
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, attrs, self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        assert node is not self.root, f"stray </{tag}>"
        self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse_html(content):
    builder = TreeBuilder()
    builder.feed(content.decode("utf-8") if isinstance(content, bytes) else content)
    builder.close()
    assert builder.current is builder.root, f"unclosed element {builder.current!r}"
    return builder.root


def get_page(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response, parse_html(response.content)


def escaped(text):
    """How a literal line must look in HTML source: the three characters that could be markup, escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def imported(name):
    result = import_file(SAMPLES / name)
    assert not result.failed, result
    return Post.objects.get(source_name=name)


# --- index ----------------------------------------------------------------------------------------------


def test_index_lists_each_post_linked_by_its_title(client, post):
    other = imported("literal.txt")
    _, doc = get_page(client, "/")
    content = doc.one("main", id="content")
    for archived in (post, other):
        links = content.find_all("a", href=archived.get_absolute_url())
        assert [link.words() for link in links] == [archived.title]


def test_index_links_lead_to_the_permalinks(client, post):
    _, doc = get_page(client, "/")
    link = doc.one("main").one("a", href=post.get_absolute_url())
    _, page = get_page(client, link.attrs["href"])
    assert page.by_id("post-title").words() == post.title


def test_index_without_posts_still_is_a_page(client, db):
    _, doc = get_page(client, "/")
    assert doc.one("main", id="content").find_all("li", class_="post") == []
    assert doc.by_id("header") and doc.by_id("footer")


# --- permalink: the article ---------------------------------------------------------------------------


def test_permalink_is_post_name_style(post):
    assert post.get_absolute_url() == "/russia-supports-both-assad-troops-and-rebels-in-battle-against-isis-putin/"


def test_permalink_shows_title_as_the_one_h1(client, post):
    _, doc = get_page(client, post.get_absolute_url())
    assert [h1.words() for h1 in doc.find_all("h1")] == [post.title]
    assert doc.one("title").words().startswith(post.title)


def test_permalink_body_is_the_file_s_paragraphs_and_subheadings_in_order(client, post):
    _, expected, _ = file_article()
    _, doc = get_page(client, post.get_absolute_url())
    entry = doc.one("div", class_="entry")
    assert [(el.tag, el.text()) for el in entry.elements] == expected
    assert [h2.text() for h2 in entry.find_all("h2")] == SUBHEADINGS
    assert len(entry.find_all("p")) == 28
    assert entry.elements[-1].tag == "p" and entry.elements[-1].text().startswith("READ MORE: ")


def test_no_chrome_in_the_article_body(client, post):
    _, doc = get_page(client, post.get_absolute_url())
    entry_text = doc.one("div", class_="entry").text()
    for line in CHROME:
        assert line not in entry_text
    assert "Source Article from" not in doc.one("article").text()


def test_response_line_links_respond_and_trackback(client, post):
    _, doc = get_page(client, post.get_absolute_url())
    meta = doc.one("p", class_="postmetadata")
    assert meta.words() == "You can leave a response, or trackback from your own site."
    links = {a.words(): a.attrs["href"] for a in meta.find_all("a")}
    assert links == {"leave a response": "#respond", "trackback": post.get_trackback_url()}
    assert post.get_trackback_url() == f"/{post.slug}/trackback/"


def test_respond_section_is_wordpress_s(client, post):
    _, doc = get_page(client, post.get_absolute_url())
    respond = doc.one("div", id="respond")
    title = doc.by_id("reply-title")
    assert title.tag == "h3" and respond.contains(title)
    assert title.words(visible_only=True) == "Leave a Reply"
    form = doc.by_id("commentform")
    assert form.tag == "form" and respond.contains(form)
    assert form.attrs["method"] == "post"
    assert form.attrs["action"] == reverse("archive:reply") + "#respond"


@pytest.mark.parametrize(
    ("name", "tag"), [("author", "input"), ("email", "input"), ("url", "input"), ("comment", "textarea")]
)
def test_each_visible_field_has_its_wordpress_name_id_and_label(client, post, name, tag):
    _, doc = get_page(client, post.get_absolute_url())
    form = doc.by_id("commentform")
    field = form.one(name=name)
    assert field.tag == tag
    assert field.attrs["id"] == name
    assert field.attrs.get("type") != "hidden"
    labels = form.find_all("label", **{"for": name})
    assert len(labels) == 1 and labels[0].words()


@pytest.mark.parametrize(("name", "value"), [("comment_post_ID", None), ("comment_parent", "0")])
def test_hidden_fields_name_the_post_and_no_parent(client, post, name, value):
    _, doc = get_page(client, post.get_absolute_url())
    field = doc.by_id("commentform").one("input", name=name)
    assert field.attrs["type"] == "hidden"
    assert field.attrs["id"] == name
    assert field.attrs["value"] == (str(post.pk) if value is None else value)


def test_archive_note_shows_digest_import_date_and_raw_link(client, post, settings):
    settings.TIME_ZONE = "UTC"
    Post.objects.filter(pk=post.pk).update(imported_at=datetime(2016, 1, 12, 10, 30, tzinfo=UTC))
    _, doc = get_page(client, post.get_absolute_url())
    note = doc.one("aside", class_="archive-note")
    text = note.words()
    assert "archived copy" in text
    assert post.sha256 in text
    assert hashlib.sha256(bytes(post.original)).hexdigest() in text
    time = note.one("time")
    assert time.attrs["datetime"] == "2016-01-12T10:30:00+00:00"
    assert "January 12, 2016" in time.words()
    assert [a.attrs["href"] for a in note.find_all("a")] == [post.get_original_url()]


def test_nothing_unknown_is_invented(client, post):
    """The seed has no publication date, author or source address: the article shows none."""
    _, doc = get_page(client, post.get_absolute_url())
    article = doc.one("article")
    assert len(article.find_all("time")) == 1  # the import, inside the archive note
    assert article.one("aside", class_="archive-note").contains(article.one("time"))
    assert not doc.find_all(rel="author")
    assert "Posted by" not in article.text() and "Posted on" not in article.text()


def test_footer_does_not_claim_wordpress(client, post):
    for url in ("/", post.get_absolute_url(), "/no-such-post/"):
        response = client.get(url)
        doc = parse_html(response.content)
        footer = doc.by_id("footer")
        assert footer.words()
        assert "wordpress" not in footer.text().lower()
        assert "powered by" not in response.content.decode().lower()


# --- every character literal ----------------------------------------------------------------------------


def test_special_lines_appear_escaped_exactly_once_and_never_as_markup(client):
    post = imported("literal.txt")
    response, doc = get_page(client, post.get_absolute_url())
    html = response.content.decode()
    for line in LITERAL_LINES + LITERAL_MULTILINE.split("\n"):
        assert html.count(escaped(line)) == 1, line
        if escaped(line) != line:
            assert html.count(line) == 0, f"unescaped: {line}"
    for entity in ("&amp;amp;amp;", "&amp;lt;", "&amp;gt;"):  # escaped once, not twice
        assert entity not in html
    assert "Fish &amp; chips &amp;amp; an entity stay text." in html
    assert "A &lt;b&gt;tag&lt;/b&gt; and a &lt;script&gt;alert(1)&lt;/script&gt; stay text." in html

    entry = doc.one("div", class_="entry")
    assert {el.tag for el in entry.iter()} == {"p"}
    assert [el.text() for el in entry.elements] == [
        "An opening paragraph, so that what follows sits between paragraphs.",
        *LITERAL_LINES,
        LITERAL_MULTILINE,
        "The last paragraph.",
    ]
    # No inline script at all; the JSON-LD block is data (CSP's script-src does not apply to it).
    assert all("src" in s.attrs or s.attrs.get("type") == "application/ld+json" for s in doc.find_all("script"))
    assert not doc.one("main").find_all("b") and not doc.one("main").find_all("hr")


def test_four_space_indent_is_kept_in_the_paragraph(client):
    post = imported("literal.txt")
    _, doc = get_page(client, post.get_absolute_url())
    paragraphs = [p.text() for p in doc.one("div", class_="entry").find_all("p")]
    assert "    x = y * 2  # four spaces of indent" in paragraphs
    assert any("\n    indented line\n" in text for text in paragraphs)


def test_title_is_escaped_too(client, tmp_path):
    path = tmp_path / "fish.txt"
    path.write_bytes(b"Fish & <chips> for *two*\n\nBody.\n")
    assert not import_file(path).failed
    post = Post.objects.get(source_name="fish.txt")
    response, doc = get_page(client, post.get_absolute_url())
    assert doc.one("h1").text() == "Fish & <chips> for *two*"
    assert "<chips>" not in response.content.decode()
    _, index = get_page(client, "/")
    assert index.one("main").one("a", href=post.get_absolute_url()).text() == "Fish & <chips> for *two*"


# --- the raw original -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "charset"),
    [("bom_crlf_no_final_newline.txt", "utf-8"), ("cp1252.txt", "windows-1252"), ("crlf.txt", "utf-8"),
     ("literal.txt", "utf-8")],
)  # fmt: skip
def test_raw_original_is_byte_identical_and_names_the_charset_it_was_read_with(client, name, charset):
    post = imported(name)
    response = client.get(post.get_original_url())
    assert response.status_code == 200
    assert response.content == (SAMPLES / name).read_bytes()
    assert response["Content-Type"] == f"text/plain; charset={charset}"  # IANA names, as browsers know them


def test_raw_original_of_the_seed(client, post):
    response = client.get(f"/{post.slug}/original.txt")
    assert response.status_code == 200
    assert response.content == (Path(__file__).parent.parent / "seeds" / post.source_name).read_bytes()
    assert hashlib.sha256(response.content).hexdigest() == post.sha256
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == f'inline; filename="{post.source_name}"'
    assert response["Digest"] == "sha-256=" + base64.b64encode(hashlib.sha256(response.content).digest()).decode()


def test_raw_original_keeps_an_awkward_file_name_in_a_valid_header(client, tmp_path):
    path = tmp_path / 'a "quoted" café.txt'
    path.write_bytes(b"Awkward\n\nName.\n")
    assert not import_file(path).failed
    post = Post.objects.get(source_name=path.name)
    response = client.get(post.get_original_url())
    assert response.status_code == 200
    assert response["Content-Disposition"] == "inline; filename*=utf-8''a%20%22quoted%22%20caf%C3%A9.txt"


def test_article_links_its_raw_original(client):
    post = imported("bom_crlf_no_final_newline.txt")
    _, doc = get_page(client, post.get_absolute_url())
    head = doc.one("head")
    link = head.one("link", rel="alternate", type="text/plain")
    assert link.attrs["href"] == post.get_original_url()
    raw = client.get(link.attrs["href"])
    assert raw.content == (SAMPLES / "bom_crlf_no_final_newline.txt").read_bytes()
    assert raw.content.startswith(b"\xef\xbb\xbf") and not raw.content.endswith(b"\n")


# --- 404 and 405 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/no-such-post/",
        "/no-such-post/original.txt",
        "/no-such-post/trackback/extra/",
        "/a/b/c/",
        "/wp-login.php",
        "/%E2%80%93/",
    ],
)
def test_unknown_url_gets_the_styled_404(client, db, url):
    response = client.get(url, follow=True)
    assert response.status_code == 404
    assert "404.html" in [t.name for t in response.templates]
    html = response.content.decode()
    doc = parse_html(html)
    assert doc.by_id("header").find("a", href="/")
    assert doc.by_id("footer")
    stylesheets = [link.attrs["href"] for link in doc.one("head").find_all("link", rel="stylesheet")]
    assert any(re.search(r"/kubrick(\.[0-9a-f]{12})?\.css$", href) for href in stylesheets)  # hashed names too
    assert "Not Found" in doc.one("h1").words()
    for debug_marker in ("Technical", "URLconf", "Traceback", "DEBUG = True", "Page not found at"):
        assert debug_marker not in html


def test_comment_page_beyond_the_last_is_404(client, post):
    response = client.get(reverse("archive:post-comments", args=[post.slug, 99]))
    assert response.status_code == 404
    assert parse_html(response.content).by_id("footer")


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
@pytest.mark.parametrize("which", ["index", "permalink", "raw"])
def test_writes_to_pages_are_405(post, method, which):
    url = {"index": "/", "permalink": post.get_absolute_url(), "raw": post.get_original_url()}[which]
    client = Client(enforce_csrf_checks=True)  # as a real client without a CSRF token meets the site
    response = getattr(client, method)(url, data=b"x", content_type="text/plain")
    assert response.status_code == 405
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}
    assert Post.objects.filter(pk=post.pk, title=post.title).exists()


def test_pages_hand_out_no_csrf_token_or_cookie(post):
    """The reply form is protected by where it comes from (archive/crossorigin.py), so the page is the same
    for everyone: no token in the form, no cookie."""
    response, doc = get_page(Client(enforce_csrf_checks=True), post.get_absolute_url())
    assert not doc.by_id("commentform").find_all("input", name="csrfmiddlewaretoken")
    assert not response.cookies


@pytest.mark.parametrize(
    ("hour", "minute", "shown"),
    [(8, 56, "8:56 am"), (12, 5, "12:05 pm"), (0, 30, "12:30 am"), (23, 59, "11:59 pm")],
)
def test_response_times_read_as_wordpress_prints_them(client, post, settings, hour, minute, shown):
    """WordPress's time_format "g:i a" prints "8:56 am"; Django's `a` would print "8:56 a.m."."""
    settings.TIME_ZONE = "UTC"
    comment = make_comment(post, "On time")
    Comment.objects.filter(pk=comment.pk).update(created_at=datetime(2026, 1, 2, hour, minute, tzinfo=UTC))
    _, doc = get_page(client, post.get_absolute_url())
    time = doc.by_id(f"comment-{comment.pk}").one("div", class_="comment-metadata").one("time")
    assert time.words() == f"January 2, 2026 at {shown}"


def test_each_comment_page_names_itself_as_canonical(post, settings):
    """WordPress's paged comments: /comment-page-1/ is its own page, not a copy of the article's newest."""
    settings.ARCHIVE_COMMENTS_PER_PAGE = 1
    for n in range(2):
        make_comment(post, f"Thread {n}")
    for url in (post.get_absolute_url(), f"/{post.slug}/comment-page-1/"):
        _, doc = get_page(Client(), url)
        assert doc.one("link", rel="canonical").attrs["href"] == url
