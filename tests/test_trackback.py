"""The TrackBack receiver at /<slug>/trackback/, through real request handling and the real database.

Every ping is sent as raw bytes with its own Content-Type header (`client.generic`), never through the test
client's dict encoding, so the charset cases send exactly the bytes a remote blog would. The table numbers
(T1–T11) are those of ../shared/reference/protocols.md §1.4; the choices made where the spec is silent
are listed in test names and in the README's TrackBack section.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from urllib.parse import urljoin, urlsplit

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from archive import policy, trackback
from archive.models import Comment, Post
from tests.trackback_helpers import (
    FORM,
    UTF8_FORM,
    assert_accepted,
    assert_refused,
    discover,
    form,
    page_tree,
    ping_items,
    rdf_comments,
    xml_answer,
)

SOURCE = "https://other.example/p/1"
T1_BODY = b"url=https%3A%2F%2Fother.example%2Fp%2F1&title=Re%3A+Hello&excerpt=Nice+post&blog_name=Other"
CLOSED = "Sorry, trackbacks are closed for this item."
DUPLICATE = "There is already a ping from that URL for this post."
FLOOD = "You are posting comments too quickly. Slow down."
UTF7_SCRIPT = b"%2BADw-script%2BAD4-alert(1)%2BADw-/script%2BAD4-"  # UTF-7 for <script>alert(1)</script>


@pytest.fixture(autouse=True)
def _ping_settings(settings):
    """Known rules whatever the environment says; the flood and moderation tests set their own."""
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 0
    settings.ARCHIVE_COMMENT_MODERATION = "open"
    settings.ARCHIVE_COMMENT_BLOCKLIST = []
    settings.ARCHIVE_COMMENT_MAX_LINKS = 2


@pytest.fixture
def send(client, post, django_capture_on_commit_callbacks):
    """POST raw bytes to a ping URL (the seed post's by default). Commit callbacks run as after a real
    commit, so the page cache moves on exactly as it does in production."""

    def send_ping(body: bytes, content_type: str = UTF8_FORM, *, path: str | None = None, via=None, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            return (via or client).generic(
                "POST", path or post.get_trackback_url(), data=body, content_type=content_type, **extra
            )

    return send_ping


def pings(post: Post | None = None) -> list[Comment]:
    queryset = Comment.objects.filter(kind=Comment.Kind.TRACKBACK)
    return list(queryset.filter(post=post) if post else queryset)


def only_ping(post: Post) -> Comment:
    stored = pings(post)
    assert len(stored) == 1, stored
    return stored[0]


def make_post(slug: str, title: str, **fields) -> Post:
    return Post.objects.create(
        title=title,
        slug=slug,
        body="A second archived post.\n\nIts second paragraph.",
        source_name=f"{slug}.txt",
        original=b"A second archived post.",
        sha256="0" * 64,
        encoding="utf-8",
        **fields,
    )


def set_open(post: Post, *, comments: bool, pings: bool, capture) -> None:
    with capture(execute=True):
        post.comments_open, post.pings_open = comments, pings
        post.save()


# --- The request/response table (T1–T11) --------------------------------------------------------------


def test_t1_a_spec_ping_is_stored_once_as_a_trackback_and_answered_error_0(send, post):
    response = send(T1_BODY)
    assert_accepted(response)
    assert b"<message>" not in response.content
    ping = only_ping(post)
    assert ping.kind == Comment.Kind.TRACKBACK
    assert ping.status == Comment.Status.APPROVED
    assert (ping.blog_name, ping.author, ping.author_url) == ("Other", "Other", SOURCE)
    assert (ping.title, ping.content) == ("Re: Hello", "Nice post")
    assert ping.author_email == ""
    assert ping.ip_address == "127.0.0.1"
    assert Comment.objects.count() == 1


@pytest.mark.parametrize(
    "content_type",
    ["Application/X-WWW-Form-URLEncoded; Charset=UTF-8", f'{FORM};charset="utf-8"', f"{FORM} ; charset=UTF8", FORM],
)
def test_t1_media_type_and_charset_are_case_insensitive(send, post, content_type):
    assert_accepted(send(form(url=SOURCE, title="Café"), content_type))
    assert only_ping(post).title == "Café"


def test_t2_the_same_url_again_is_refused_with_wordpress_message(send, post):
    assert_accepted(send(T1_BODY))
    assert_refused(send(T1_BODY), DUPLICATE)
    # Another title and excerpt from the same url is still the same ping (WordPress compares the url only).
    assert_refused(send(form(url=SOURCE, title="Other title", excerpt="Other text")), DUPLICATE)
    assert len(pings(post)) == 1


def test_t2_the_same_url_may_ping_another_post(send, post):
    other = make_post("another-post", "Another post")
    assert_accepted(send(T1_BODY))
    assert_accepted(send(T1_BODY, path=other.get_trackback_url()))
    assert len(pings(post)) == len(pings(other)) == 1


def test_t2_the_duplicate_check_comes_before_the_flood_check(send, post, settings):
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 3600
    assert_accepted(send(T1_BODY))
    assert_refused(send(T1_BODY), DUPLICATE)


@pytest.mark.parametrize(
    "body",
    [
        b"title=x&excerpt=y",
        b"title=x&excerpt=y&blog_name=z",
        b"url=&title=x",
        b"url=+++&title=x",
        b"url=%00&title=x",
        b"URL=https%3A%2F%2Fother.example%2F&title=x",  # field names are case-sensitive
    ],
)
def test_t3_a_ping_without_url_gets_error_1_with_a_message(send, post, body):
    message = assert_refused(send(body))
    assert "url" in message
    assert pings() == []


def test_t4_a_url_alone_is_accepted_and_the_title_defaults_to_the_url(send, post):
    assert_accepted(send(b"url=https%3A%2F%2Fother.example%2Fp%2F2"))
    ping = only_ping(post)
    assert (ping.title, ping.author_url) == ("https://other.example/p/2", "https://other.example/p/2")
    assert (ping.content, ping.blog_name) == ("", "")


def test_t4_a_title_that_strips_to_nothing_also_becomes_the_url(send, post):
    assert_accepted(send(form(url=SOURCE, title="<b></b>  <script>x</script>")))
    assert only_ping(post).title == SOURCE


def test_t5_pings_closed_are_refused_and_nothing_is_stored(send, post, django_capture_on_commit_callbacks):
    set_open(post, comments=True, pings=False, capture=django_capture_on_commit_callbacks)
    assert_refused(send(T1_BODY), CLOSED)
    assert_refused(send(b"url=https%3A%2F%2Fother.example%2Fp%2F2"), CLOSED)
    assert pings() == []


def test_t5_closing_pings_does_not_close_them_on_another_post(send, post, django_capture_on_commit_callbacks):
    other = make_post("another-post", "Another post", pings_open=False)
    assert_refused(send(T1_BODY, path=other.get_trackback_url()), CLOSED)
    assert_accepted(send(T1_BODY))
    assert pings(other) == [] and len(pings(post)) == 1


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?url=https%3A%2F%2Fother.example%2Fp%2F1&title=Re&excerpt=Nice&blog_name=Other",  # a 1.0 GET ping
        "?__mode=rss",
        "?tb_id=1&url=https%3A%2F%2Fother.example%2F",
    ],
)
def test_t6_t7_get_redirects_to_the_permalink_and_stores_nothing(client, post, query):
    response = client.get(post.get_trackback_url() + query)
    assert response.status_code == 302
    assert response["Location"] == post.get_absolute_url()
    assert Comment.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", FORM),
        (b"", UTF8_FORM),
        (b"", ""),
        (b"&&&===&", FORM),
        (b"url=https%3A%2F%2Fother.example%2Fp%2F1&title=x", "text/plain"),
        (b"url=https%3A%2F%2Fother.example%2Fp%2F1&title=x", "text/plain; charset=utf-8"),
        (json.dumps({"url": SOURCE, "title": "x"}).encode(), "application/json"),
        (b'<?xml version="1.0"?><methodCall/>', "text/xml"),
        (
            b"--b\r\nContent-Disposition: form-data; name=url\r\n\r\nhttps://x.example/\r\n--b--\r\n",
            "multipart/form-data; boundary=b",
        ),
        (b"\xff\xfe\x00\x01\x80", FORM),
        (b"\xff\xfe\x00\x01\x80", "application/octet-stream"),
    ],
)
def test_t8_an_empty_or_non_form_body_gets_error_xml_never_a_500(send, post, body, content_type):
    assert_refused(send(body, content_type))
    assert pings() == []


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_t9_an_unknown_post_is_a_404_with_the_error_xml(client, post, method):
    response = client.generic(method, "/no-such-post/trackback/", data=T1_BODY, content_type=UTF8_FORM)
    assert_refused(response, status=404)
    assert Comment.objects.count() == 0


def test_t10_head_changes_nothing(send, client, post):
    response = client.generic("HEAD", post.get_trackback_url(), data=T1_BODY, content_type=UTF8_FORM)
    assert response.status_code == 302
    assert response["Location"] == post.get_absolute_url()
    assert response.content == b""
    assert Comment.objects.count() == 0
    assert_accepted(send(T1_BODY))  # the same body by POST is a good ping: HEAD ignored it on purpose


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_are_405_and_change_nothing(client, post, method):
    response = client.generic(method, post.get_trackback_url(), data=T1_BODY, content_type=UTF8_FORM)
    assert response.status_code == 405
    assert "POST" in response["Allow"]
    assert Comment.objects.count() == 0


def test_t11_the_ping_url_takes_cross_site_posts_but_the_reply_form_does_not(send, post):
    strict = Client(enforce_csrf_checks=True)
    response = send(T1_BODY, via=strict)
    assert response.status_code != 403
    assert_accepted(response)
    assert len(pings(post)) == 1

    reply = {
        "comment_post_ID": str(post.pk),
        "comment_parent": "0",
        "author": "Reader",
        "email": "reader@example.com",
        "comment": "A reply sent from another site.",
    }
    response = strict.post("/comments/post/", reply, HTTP_SEC_FETCH_SITE="cross-site")
    assert response.status_code == 403
    assert Comment.objects.filter(kind=Comment.Kind.COMMENT).count() == 0


def test_the_answer_escapes_its_message_and_is_well_formed():
    body = trackback.response_xml("a <b> & \"c\" ]]> 'd'")
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    assert trackback.parse_answer(body) == trackback.Answer(True, "a <b> & \"c\" ]]> 'd'")
    assert trackback.parse_answer(trackback.response_xml()) == trackback.Answer(False, "")


# --- Charsets ---------------------------------------------------------------------------------------------


def test_latin1_bytes_with_the_charset_in_the_content_type_header(send, post):
    body = form(url=SOURCE, title=b"Caf\xe9 cr\xe8me", excerpt=b"Na\xefve \xabquotes\xbb", blog_name=b"G\xf6del")
    assert_accepted(send(body, f"{FORM}; charset=iso-8859-1"))
    ping = only_ping(post)
    assert (ping.title, ping.content, ping.blog_name) == ("Café crème", "Naïve «quotes»", "Gödel")


def test_raw_latin1_bytes_not_percent_encoded_are_decoded_too(send, post):
    body = b"url=https%3A%2F%2Fother.example%2Fp%2F1&title=Caf\xe9&blog_name=M\xfcller"
    assert_accepted(send(body, f"{FORM}; charset=ISO-8859-1"))
    ping = only_ping(post)
    assert (ping.title, ping.blog_name) == ("Café", "Müller")


@pytest.mark.parametrize("label", ["ISO-8859-1", "iso-8859-1", "latin1", " ISO-8859-1 "])
def test_latin1_bytes_with_a_charset_form_field_the_wordpress_convention(send, post, label):
    body = form(url=SOURCE, title=b"Caf\xe9", excerpt=b"cr\xe8me br\xfbl\xe9e", charset=label)
    assert_accepted(send(body, FORM))
    ping = only_ping(post)
    assert (ping.title, ping.content) == ("Café", "crème brûlée")


@pytest.mark.parametrize(
    "body",
    [
        form(url=SOURCE, title=b"Caf\xe9 cr\xe8me", excerpt=b"\x93Na\xefve\x94 \x85", blog_name=b"G\xf6del"),
        b"url=https%3A%2F%2Fother.example%2Fp%2F1&title=Caf\xe9 cr\xe8me&excerpt=\x93Na\xefve\x94 \x85"
        b"&blog_name=G\xf6del",  # raw bytes, not percent-encoded
    ],
)
def test_latin1_or_windows_1252_without_a_charset_is_read_as_windows_1252(send, post, body):
    """No charset in the header or a field, and bytes that are not UTF-8: WordPress's mb_convert_encoding
    detects ISO-8859-1; read as Windows-1252 (as import_seeds reads seeds), nothing becomes U+FFFD."""
    assert_accepted(send(body, FORM))
    ping = only_ping(post)
    assert (ping.title, ping.content, ping.blog_name) == ("Café crème", "“Naïve” …", "Gödel")


def test_the_charset_field_may_come_before_the_fields_it_describes(send, post):
    body = form(charset="iso-8859-1", url=SOURCE, title=b"Caf\xe9")
    assert_accepted(send(body, FORM))
    assert only_ping(post).title == "Café"


def test_the_header_charset_wins_over_the_charset_field(send, post):
    body = form(url=SOURCE, title="Café", charset="ISO-8859-1")  # UTF-8 bytes, and the header says so
    assert_accepted(send(body, UTF8_FORM))
    assert only_ping(post).title == "Café"  # not "CafÃ©"


@pytest.mark.parametrize(
    ("content_type", "fields"),
    [
        (f"{FORM}; charset=windows-1252", {}),
        (f"{FORM}; charset=cp1252", {}),
        (FORM, {"charset": "Windows-1252"}),  # WordPress ≥6.7 falls back to auto-detection here; we don't
        (f"{FORM}; charset=iso-8859-1", {}),  # what Windows blogs send: browsers read it as Windows-1252
    ],
)
def test_windows_1252_curly_quotes_and_ellipsis(send, post, content_type, fields):
    body = form(
        url=SOURCE,
        title=b"Putin\x92s \x93interview\x94",
        excerpt=b"He said\x85 \x91yes\x92 \x96 \x80100",
        blog_name=b"Caf\xe9 \x84Blog\x93",
        **fields,
    )
    assert_accepted(send(body, content_type))
    ping = only_ping(post)
    assert ping.title == "Putin’s “interview”"
    assert ping.content == "He said… ‘yes’ – €100"
    assert ping.blog_name == "Café „Blog“"


@pytest.mark.parametrize("label", ["utf-7", "UTF-7", "utf7", "unicode-1-1-utf-7", '"UTF-7"'])
def test_utf7_in_the_header_is_refused(send, client, post, label):
    body = b"url=https%3A%2F%2Fother.example%2Fp%2F1&title=" + UTF7_SCRIPT + b"&excerpt=" + UTF7_SCRIPT
    message = assert_refused(send(body, f"{FORM}; charset={label}"))
    assert "UTF-7" in message
    assert pings() == []
    assert b"<script>alert(1)" not in client.get(post.get_absolute_url()).content


@pytest.mark.parametrize("label", ["UTF-7", "utf-7", "UTF7"])
def test_utf7_in_the_charset_field_is_refused(send, post, label):
    body = b"url=https%3A%2F%2Fother.example%2Fp%2F1&title=" + UTF7_SCRIPT + b"&charset=" + label.encode()
    assert "UTF-7" in assert_refused(send(body, FORM))
    assert pings() == []


def test_utf7_in_the_field_under_a_utf8_header_is_read_as_utf8(send, client, post):
    """The header names the charset, so the field is not consulted: the bytes are plain ASCII text."""
    body = b"url=https%3A%2F%2Fother.example%2Fp%2F1&title=" + UTF7_SCRIPT + b"&charset=UTF-7"
    assert_accepted(send(body, UTF8_FORM))
    ping = only_ping(post)
    assert ping.title == "+ADw-script+AD4-alert(1)+ADw-/script+AD4-"
    assert "<" not in ping.title
    page = client.get(post.get_absolute_url()).content
    assert b"+ADw-script+AD4-alert(1)" in page
    assert b"<script>alert(1)" not in page


@pytest.mark.parametrize(
    ("content_type", "fields"),
    [
        (f"{FORM}; charset=foo", {}),
        (f"{FORM}; charset=x-unknown-8", {}),
        (f"{FORM}; charset=base64", {}),  # a codec, but bytes-to-bytes
        (f"{FORM}; charset=rot13", {}),  # a codec, but str-to-str
        (f"{FORM}; charset=", {}),
        (FORM, {"charset": "foo"}),
        (FORM, {"charset": "utf\x008"}),
        (FORM, {"charset": ""}),
        (FORM, {}),
        ("", {}),  # no Content-Type at all: read as a form in UTF-8
    ],
)
def test_an_unknown_or_missing_charset_falls_back_to_utf8(send, post, content_type, fields):
    assert_accepted(send(form(url=SOURCE, title="Café ’quoted’ …", **fields), content_type))
    assert only_ping(post).title == "Café ’quoted’ …"


@pytest.mark.parametrize(
    "label", ["punycode", "idna", "unicode_escape", "raw_unicode_escape", "undefined", "charmap", "hex", "zlib"]
)
@pytest.mark.parametrize("where", ["header", "field"])
def test_codecs_that_are_not_charsets_are_read_as_utf8_never_a_500(send, post, label, where):
    """Python knows these names, but they are text transforms that raise on ordinary form bytes."""
    fields = {"charset": label} if where == "field" else {}
    content_type = f"{FORM}; charset={label}" if where == "header" else FORM
    assert_accepted(send(form(url=SOURCE, title="Café = ’quoted’", excerpt="a=b&c", **fields), content_type))
    assert only_ping(post).title == "Café = ’quoted’"


@pytest.mark.parametrize("label", ["utf-16", "utf-16-le", "utf-32", "shift_jis", "koi8-r", "big5"])
def test_other_real_charsets_never_fail(send, post, label):
    body = form(url=SOURCE, title=b"\xe9\x82\xa3\xff\xfe", excerpt=b"\x00\x00\xfe\xff")
    response = send(body, f"{FORM}; charset={label}")
    assert response.status_code == 200
    answer = xml_answer(response)
    assert (answer.error == "0") == (len(pings()) == 1)


def test_koi8_r_and_shift_jis_are_decoded(send, post):
    assert_accepted(send(form(url=SOURCE, title="Привет".encode("koi8-r")), f"{FORM}; charset=koi8-r"))
    assert only_ping(post).title == "Привет"
    assert_accepted(send(form(url=SOURCE + "j", title="日本語".encode("shift_jis"), charset="Shift_JIS"), FORM))
    assert pings(post)[-1].title == "日本語"


def test_nul_bytes_are_stripped_from_every_field(send, post):
    body = b"url=https%3A%2F%2Fother.example%2F%00p%2F1&title=Ti%00tle&excerpt=%00Ex%00cerpt%00&blog_name=Bl%00og"
    assert_accepted(send(body))
    ping = only_ping(post)
    assert (ping.author_url, ping.title, ping.content, ping.blog_name) == (SOURCE, "Title", "Excerpt", "Blog")
    assert not any("\x00" in value for value in (ping.author_url, ping.title, ping.content, ping.author))


def test_control_characters_are_dropped(send, post):
    assert_accepted(send(form(url=SOURCE, title="a\x01b\x1bc\x7fd\x85e", excerpt="x&#1;y&#x1F;z")))
    ping = only_ping(post)
    assert (ping.title, ping.content) == ("abcde", "xyz")


@pytest.mark.parametrize(
    "body",
    [
        b"url=https%3A%2F%2Fother.example%2Fp%2F1&title=caf%E9%FF%FE&excerpt=%C3%28%A0%A1&blog_name=%F0%9F",
        b"url=https%3A%2F%2Fother.example%2Fp%2F1&title=caf\xe9\xff&excerpt=\xc3\x28",  # raw bytes, not escaped
        b"url=https%3A%2F%2Fother.example%2Fp%2F1&title=%ED%A0%80",  # an encoded UTF-16 surrogate
    ],
)
def test_invalid_utf8_is_never_a_500_and_stores_valid_text(send, post, body):
    assert_accepted(send(body, UTF8_FORM))
    ping = only_ping(post)
    for value in (ping.title, ping.content, ping.blog_name):
        value.encode("utf-8")  # no lone surrogates: the text is valid Unicode
    assert ping.title.startswith("caf") or "\ufffd" in ping.title


# --- What is stored ---------------------------------------------------------------------------------------


def test_html_is_stripped_from_every_field(send, client, post):
    body = form(
        url=SOURCE,
        title="<b>Bold</b> <script>alert('t')</script>title",
        excerpt='<p>Some <a href="https://evil.example/">link</a></p><style>p{}</style><!-- hidden -->text',
        blog_name='<i>Blog</i><img src=x onerror="alert(1)"> name',
    )
    assert_accepted(send(body))
    ping = only_ping(post)
    assert (ping.title, ping.content, ping.blog_name) == ("Bold title", "Some linktext", "Blog name")
    assert ping.author == "Blog name"
    page = client.get(post.get_absolute_url()).content
    assert b"alert(" not in page and b"onerror" not in page and b"evil.example" not in page


def test_wordpress_entities_are_decoded_once_stored_as_text_and_shown_escaped_once(send, client, post):
    body = form(
        url=SOURCE,
        title="Putin&#8217;s war &#8211; AT&#038;T",
        excerpt="Tom &amp; Jerry&#8230; &lt;b&gt;not bold&lt;/b&gt; &amp;amp; a < b",
        blog_name="Q&#038;A &quot;Blog&quot;",
    )
    assert_accepted(send(body))
    ping = only_ping(post)
    assert ping.title == "Putin’s war – AT&T"
    assert ping.content == "Tom & Jerry… <b>not bold</b> &amp; a < b"
    assert ping.blog_name == 'Q&A "Blog"'

    tree = page_tree(client.get(post.get_absolute_url()))
    (item,) = ping_items(tree)
    assert item.one("a", href=SOURCE).text == "Putin’s war – AT&T"  # the parser decodes the escaping once
    assert "Tom & Jerry… <b>not bold</b> &amp; a < b" in item.text
    assert item.find_all("b") == []  # the excerpt's <b> is text, not a tag
    html = client.get(post.get_absolute_url()).content.decode()
    start = html.index(f'id="comment-{ping.pk}"')
    fragment = html[start : html.index("</li>", start)]
    assert "Putin’s war – AT&amp;T" in fragment
    assert "Q&amp;A &quot;Blog&quot;" in fragment
    assert "Tom &amp; Jerry… &lt;b&gt;not bold&lt;/b&gt; &amp;amp; a &lt; b" in fragment
    for wrong in ("&#8217;", "&#038;", "&#8230;", "&amp;amp;amp;", "&amp;#"):
        assert wrong not in fragment, wrong


def test_title_cut_to_250_and_excerpt_to_252_characters_plus_an_ellipsis(send, post):
    title = "é" * 10_000  # characters, not bytes: each é is two bytes of UTF-8
    excerpt = "😀" * 300
    assert_accepted(send(form(url=SOURCE, title=title, excerpt=excerpt, blog_name="b" * 1000)))
    ping = only_ping(post)
    assert ping.title == "é" * 250 + "…"
    assert ping.content == "😀" * 252 + "…"
    assert ping.blog_name == "b" * trackback.BLOG_NAME_MAX + "…"
    for name in ("title", "blog_name", "author"):  # fits its column (PostgreSQL would refuse more)
        assert len(getattr(ping, name)) <= Comment._meta.get_field(name).max_length


def test_fields_at_the_limits_are_kept_whole(send, post):
    assert_accepted(send(form(url=SOURCE, title="t" * 250, excerpt="e" * 252)))
    ping = only_ping(post)
    assert (ping.title, ping.content) == ("t" * 250, "e" * 252)


def test_a_100_kb_excerpt_is_cut_and_answered_error_0(send, post, settings):
    settings.ARCHIVE_MAX_TRACKBACK_BYTES = 512 * 1024  # the request-size limit is not what this test is about
    words = " ".join(f"word{n}" for n in range(20_000))
    assert len(words) > 100_000
    body = form(url=SOURCE, title="Long", excerpt=f"<p>{words}</p>")
    assert len(body) > 100_000
    assert_accepted(send(body))
    ping = only_ping(post)
    assert ping.content.endswith("…")
    assert len(ping.content) <= 253
    assert ping.content[:-1] == words[:252].rstrip()


def test_whitespace_runs_are_collapsed(send, post):
    assert_accepted(send(form(url=SOURCE, title="  a \t\r\n b  ", excerpt="line one\n\nline  two")))
    ping = only_ping(post)
    assert (ping.title, ping.content) == ("a b", "line one line two")


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(document.cookie)",
        " javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "ftp://example.com/p",
        "mailto:someone@example.com",
        "//host.example/p",
        "example.com/p",
        "/relative/path",
        "http://",
        "https:///p",
        "http://exa mple.com/p",
        "https://example.com/p q",
        'https://example.com/"onmouseover="alert(1)',
        "https://example.com/'x'",
        "https://example.com/<script>",
        "https://example.com/\tp",
        "https://example.com/" + "a" * 181,  # 201 characters
        "https://example.com/" + "a" * 3000,
        "https://[::1/p",
    ],
)
def test_a_url_that_is_not_absolute_http_or_too_long_is_refused(send, client, post, url):
    message = assert_refused(send(form(url=url, title="Bad url", excerpt="x")))
    assert "url" in message
    assert pings() == []
    assert b"Bad url" not in client.get(post.get_absolute_url()).content


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/" + "a" * 180,  # exactly 200 characters
        "http://example.com",
        "HTTPS://Example.COM/Path?q=1&r=%20#frag",
        "http://127.0.0.1:8080/p",
        "https://bücher.example/straße",
    ],
)
def test_absolute_http_urls_up_to_200_characters_are_accepted(send, post, url):
    assert len(url) <= 200
    assert_accepted(send(form(url=url, title="Good url")))
    assert only_ping(post).author_url == url


def test_flood_same_ip_within_the_window_is_refused(send, post, settings):
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 3600
    assert_accepted(send(T1_BODY))
    assert_refused(send(form(url="https://other.example/p/2", title="Second")), FLOOD)
    assert len(pings(post)) == 1
    # Another address is another sender.
    assert_accepted(send(form(url="https://other.example/p/3", title="Third"), REMOTE_ADDR="192.0.2.7"))
    assert len(pings(post)) == 2


def test_flood_window_is_measured_from_the_last_response(send, post, settings):
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 60
    assert_accepted(send(T1_BODY))
    Comment.objects.update(created_at=timezone.now() - timedelta(seconds=61))
    assert_accepted(send(form(url="https://other.example/p/2", title="Second")))
    assert len(pings(post)) == 2


def test_flood_zero_turns_it_off(send, post, settings):
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 0
    for n in range(3):
        assert_accepted(send(form(url=f"https://other.example/p/{n}", title=f"Ping {n}")))
    assert len(pings(post)) == 3


def test_moderation_all_holds_pings_answered_error_0_not_shown(send, client, post, settings):
    settings.ARCHIVE_COMMENT_MODERATION = "all"
    assert_accepted(send(form(url=SOURCE, title="Held ping title", excerpt="Held excerpt", blog_name="Held")))
    assert only_ping(post).status == Comment.Status.PENDING
    response = client.get(post.get_absolute_url())
    tree = page_tree(response)
    assert ping_items(tree) == []
    assert b"Held ping title" not in response.content and b"Held excerpt" not in response.content
    assert tree.root.one("h2", id="comments").text == "No Responses yet"


def earlier_ping(post: Post, url: str, status: str = Comment.Status.APPROVED, kind: str = Comment.Kind.TRACKBACK):
    return Comment.objects.create(
        post=post, kind=kind, status=status, author_url=url, title="Earlier", dedupe_key=f"earlier {url} {status}"
    )


def test_first_time_holds_a_ping_from_a_site_never_approved(send, client, post, settings):
    settings.ARCHIVE_COMMENT_MODERATION = "first-time"
    assert_accepted(send(T1_BODY))
    assert only_ping(post).status == Comment.Status.PENDING
    assert ping_items(page_tree(client.get(post.get_absolute_url()))) == []


@pytest.mark.parametrize("kind", [Comment.Kind.TRACKBACK, Comment.Kind.PINGBACK])
def test_first_time_publishes_a_ping_from_a_site_with_an_approved_ping(send, post, settings, kind):
    """The site is the host of the URL: another page of it, over another scheme, pinging another post and
    by another kind of ping, still counts."""
    settings.ARCHIVE_COMMENT_MODERATION = "first-time"
    earlier_ping(make_post("elsewhere", "Elsewhere"), "http://OTHER.example/older-page", kind=kind)
    assert_accepted(send(T1_BODY))
    assert pings(post)[-1].status == Comment.Status.APPROVED


@pytest.mark.parametrize(
    ("earlier_url", "status"),
    [
        ("https://other.example/p/0", Comment.Status.PENDING),
        ("https://other.example/p/0", Comment.Status.SPAM),
        ("https://other.example/p/0", Comment.Status.TRASH),
        ("https://notother.example/p/0", Comment.Status.APPROVED),  # the host is not a substring match
        ("https://blog.other.example/p/0", Comment.Status.APPROVED),
        ("https://third.example/?from=other.example", Comment.Status.APPROVED),
    ],
)
def test_first_time_holds_a_ping_whose_site_has_no_approved_ping(send, post, settings, earlier_url, status):
    settings.ARCHIVE_COMMENT_MODERATION = "first-time"
    earlier_ping(post, earlier_url, status)
    assert_accepted(send(T1_BODY))
    assert Comment.objects.get(post=post, author_url=SOURCE).status == Comment.Status.PENDING


def test_first_time_an_approved_reply_does_not_make_a_site_known(send, post, settings):
    settings.ARCHIVE_COMMENT_MODERATION = "first-time"
    Comment.objects.create(post=post, status=Comment.Status.APPROVED, author="Someone",
                           author_url="https://other.example/", dedupe_key="a reply")  # fmt: skip
    assert_accepted(send(T1_BODY))
    assert only_ping(post).status == Comment.Status.PENDING


@pytest.mark.parametrize("moderation", ["first-time", "open"])
def test_every_kind_of_ping_follows_the_ping_rules(post, settings, moderation):
    """Pingbacks (and any later kind) take the ping rules, not the reply rules, through `policy.accept`."""
    settings.ARCHIVE_COMMENT_MODERATION = moderation
    earlier_ping(post, "https://known.example/a")
    candidate = policy.Candidate(post=post, kind=Comment.Kind.PINGBACK, url="https://known.example/b")
    assert policy.accept(candidate).status == Comment.Status.APPROVED
    stranger = policy.Candidate(post=post, kind=Comment.Kind.PINGBACK, url="https://stranger.example/b")
    expected = Comment.Status.PENDING if moderation == "first-time" else Comment.Status.APPROVED
    assert policy.accept(stranger).status == expected


@pytest.mark.parametrize(
    "fields",
    [
        {"excerpt": "Cheap CASINO chips"},
        {"title": "casino night"},
        {"blog_name": "Casino Blog"},
        {"url": "https://casino.example/p"},
    ],
)
def test_a_blocklisted_word_in_any_field_holds_the_ping(send, client, post, settings, fields):
    settings.ARCHIVE_COMMENT_BLOCKLIST = ["casino"]
    assert_accepted(send(form(**{"url": SOURCE, "title": "A ping", **fields})))
    assert only_ping(post).status == Comment.Status.PENDING
    assert ping_items(page_tree(client.get(post.get_absolute_url()))) == []


@pytest.mark.parametrize("moderation", ["open", "first-time"])
def test_links_in_the_excerpt_hold_a_ping_its_own_url_counting_as_one(send, post, settings, moderation):
    """As WordPress's check_comment: ARCHIVE_COMMENT_MAX_LINKS (2) links hold a response, and a ping's URL
    is one; tags are stripped from the excerpt, so what was a link there is an address and still counts."""
    settings.ARCHIVE_COMMENT_MODERATION = moderation
    earlier_ping(post, "https://other.example/known")  # a known site: only the links can hold it
    assert_accepted(send(form(url=SOURCE, title="One", excerpt="See www.example.org for more")))
    excerpt = " ".join(f'<a href="https://l{n}.example/">https://l{n}.example/</a>' for n in range(5))
    assert_accepted(send(form(url=SOURCE + "?2", title="Five", excerpt=excerpt)))
    assert_accepted(send(form(url=SOURCE + "?3", title="None", excerpt="No address here")))
    statuses = {ping.title: ping.status for ping in pings(post)}
    assert statuses == {"Earlier": Comment.Status.APPROVED, "One": Comment.Status.PENDING,
                        "Five": Comment.Status.PENDING, "None": Comment.Status.APPROVED}  # fmt: skip


def test_the_link_limit_of_pings_is_the_setting(send, post, settings):
    settings.ARCHIVE_COMMENT_MAX_LINKS = 3
    assert_accepted(send(form(url=SOURCE, title="Two", excerpt="See https://a.example/ too")))
    assert only_ping(post).status == Comment.Status.APPROVED


# --- Display ----------------------------------------------------------------------------------------------


def test_a_ping_is_shown_in_the_responses_list_and_counted(send, client, post):
    assert ping_items(page_tree(client.get(post.get_absolute_url()))) == []  # cached before the ping
    assert_accepted(send(T1_BODY))
    ping = only_ping(post)
    tree = page_tree(client.get(post.get_absolute_url()))
    (item,) = ping_items(tree)
    assert item.attrs["id"] == f"comment-{ping.pk}"
    assert {"trackback"} <= item.classes and "comment" not in item.classes
    assert item.one("cite").text == "Other"
    link = item.one("a", href=SOURCE)
    assert link.attrs["rel"].split() == ["nofollow", "ugc"]
    assert link.text == "Re: Hello"
    assert "Nice post" in item.text
    time = item.one("time")
    shown_at = datetime.fromisoformat(time.attrs["datetime"])  # the format may drop the microseconds
    assert shown_at.tzinfo is not None
    assert shown_at == ping.created_at.replace(microsecond=shown_at.microsecond)
    assert time.text
    heading = tree.root.one("h2", id="comments")
    assert heading.text == f"One Response to “{post.title}”"
    assert f"One Response to “{escape(post.title)}”".encode() in client.get(post.get_absolute_url()).content


def test_two_pings_are_counted_in_the_heading(send, client, post):
    assert_accepted(send(T1_BODY))
    assert_accepted(send(form(url="https://third.example/", title="Third", blog_name="Third blog")))
    tree = page_tree(client.get(post.get_absolute_url()))
    assert len(ping_items(tree)) == 2
    assert tree.root.one("h2", id="comments").text == f"2 Responses to “{post.title}”"


def test_a_ping_without_blog_name_shows_its_url_as_the_name(send, client, post):
    assert_accepted(send(b"url=https%3A%2F%2Fother.example%2Fp%2F2"))
    (item,) = ping_items(page_tree(client.get(post.get_absolute_url())))
    assert item.one("cite").text == "https://other.example/p/2"
    assert item.one("a", href="https://other.example/p/2").text == "https://other.example/p/2"


# --- Autodiscovery ----------------------------------------------------------------------------------------


def test_autodiscovery_rdf_names_the_permalink_and_a_ping_url_that_answers_t1(send, client, post):
    page_url = f"http://testserver{post.get_absolute_url()}"
    tree = page_tree(client.get(post.get_absolute_url()))
    (raw,) = rdf_comments(tree)
    assert 'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"' in raw
    assert 'xmlns:dc="http://purl.org/dc/elements/1.1/"' in raw
    assert 'xmlns:trackback="http://madskills.com/public/xml/rss/module/trackback/"' in raw
    found = discover(tree, page_url)
    assert found.about == found.identifier == page_url
    assert found.ping == f"http://testserver/{post.slug}/trackback/"
    assert found.ping != found.about
    assert found.title == post.title

    parts = urlsplit(found.ping)
    assert (parts.scheme, parts.netloc) == ("http", "testserver")
    assert_accepted(send(T1_BODY, path=parts.path))
    assert len(pings(post)) == 1

    # The visible "trackback" link points to the same ping URL.
    (link,) = tree.root.find_all("a", rel="trackback")
    assert link.text == "trackback"
    assert urljoin(page_url, link.attrs["href"]) == found.ping
    line = link.parent
    assert line.text == "You can leave a response, or trackback from your own site."


def test_autodiscovery_title_has_no_tags_and_no_double_hyphen(client, db):
    hostile = make_post("hostile-title", 'Tom & Jerry -- "quoted" <b>bold</b> --> end-')
    response = client.get(hostile.get_absolute_url())
    tree = page_tree(response)
    (raw,) = rdf_comments(tree)  # the comment was not ended early by the title's "-->"
    assert "--" not in raw
    assert "<b>" not in raw and "&lt;b&gt;" not in raw
    assert raw.strip().endswith("</rdf:RDF>")
    found = discover(tree, "http://testserver/hostile-title/")
    assert found.title == 'Tom & Jerry -- "quoted" bold --> end-'
    assert found.ping == "http://testserver/hostile-title/trackback/"


@pytest.mark.parametrize(
    ("comments", "expected"),
    [
        (True, "You can leave a response. Pinging is currently not allowed."),
        (False, "Both comments and pings are currently closed."),
    ],
)
def test_pings_closed_no_rdf_no_trackback_link_and_the_line_says_so(
    client, post, django_capture_on_commit_callbacks, comments, expected
):
    assert len(rdf_comments(page_tree(client.get(post.get_absolute_url())))) == 1  # cached while open
    set_open(post, comments=comments, pings=False, capture=django_capture_on_commit_callbacks)
    response = client.get(post.get_absolute_url())
    tree = page_tree(response)
    assert rdf_comments(tree) == []
    assert b"rdf:RDF" not in response.content and b"/trackback/" not in response.content
    assert tree.root.find_all("a", rel="trackback") == []
    (line,) = tree.root.find_all("p", class_="postmetadata")
    assert line.text == expected


def test_comments_closed_pings_open_still_advertises_the_ping_url(client, post, django_capture_on_commit_callbacks):
    set_open(post, comments=False, pings=True, capture=django_capture_on_commit_callbacks)
    tree = page_tree(client.get(post.get_absolute_url()))
    assert discover(tree, f"http://testserver{post.get_absolute_url()}").ping.endswith("/trackback/")
    (line,) = tree.root.find_all("p", class_="postmetadata")
    assert line.text == "Responses are currently closed, but you can trackback from your own site."


def test_autodiscovery_follows_the_host_the_client_asked_for(client, post, settings):
    settings.ALLOWED_HOSTS = ["archive.example"]
    response = client.get(post.get_absolute_url(), HTTP_HOST="archive.example")
    found = discover(page_tree(response), f"http://archive.example{post.get_absolute_url()}")
    assert found.ping == f"http://archive.example{post.get_trackback_url()}"


# --- The policy messages the receiver answers with are the ones the issue names --------------------------


def test_policy_messages_are_wordpress_texts():
    assert policy.PINGS_CLOSED_MESSAGE == CLOSED
    assert policy.DUPLICATE_PING_MESSAGE == DUPLICATE
    assert policy.FLOOD_MESSAGE == FLOOD


def test_xml_answer_helper_rejects_a_wrong_content_type(send, post, client):
    """The helper itself can fail: an HTML page is not a TrackBack answer."""
    with pytest.raises(AssertionError):
        xml_answer(client.get(post.get_absolute_url()))
