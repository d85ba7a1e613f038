"""Never a 500: Hypothesis throws arbitrary text, bytes and field combinations at the reply form and the
TrackBack endpoint, through Django's full request handling on the real database. Every answer must be below
500, and each request must leave exactly one new Comment row or none — one exactly when the answer says it
was stored (a redirect for a reply, error 0 for a ping).

What is varied: missing, repeated and unknown fields; empty, huge (past the field limits and past the body
limit), control-character and NUL values; lone surrogates sent as the bytes `surrogatepass` makes of them
(invalid UTF-8); raw unescaped bytes; hand-made multipart bodies; random Content-Types and charsets (UTF-7,
UTF-16, codecs that are not text at all, names that are not codecs); odd User-Agents. Replies are sent as
from the page itself, as from another site (which must never store anything), and with no browser headers.

Example counts are modest so the suite stays fast; HYPOTHESIS_MAX_EXAMPLES raises them for a long run.
"""

from __future__ import annotations

import os
import string
from collections import Counter
from urllib.parse import quote
from xml.etree import ElementTree

import pytest
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from archive.models import Comment, Post

MAX_EXAMPLES = int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
REPLY_URL = "/comments/post/"
FORM = "application/x-www-form-urlencoded"
BOUNDARY = "fuzzBoundary7MA4YWxkTrZu0gW"
REPLY_FIELDS = ["comment", "author", "email", "url", "comment_post_ID", "comment_parent", "hp_homepage",
                "wp-comment-cookies-consent", "submit", "csrfmiddlewaretoken"]  # fmt: skip
PING_FIELDS = ["url", "title", "excerpt", "blog_name", "charset"]
CHARSETS = ["utf-8", "UTF-8", "utf8", "iso-8859-1", "latin-1", "windows-1252", "utf-16", "utf-16-le", "utf-32",
            "utf-7", "shift_jis", "koi8-r", "big5", "idna", "punycode", "unicode_escape", "raw_unicode_escape",
            "base64", "rot13", "hex", "zlib", "bogus", "", '"utf-8"', "utf-8 ", "\tutf-8"]  # fmt: skip
ODD_TYPES = ["multipart/form-data", "multipart/form-data; boundary=", "text/plain", "application/json",
             "application/xml", "", f"{FORM}; charset", f"{FORM};;;", "FORM", "*/*"]  # fmt: skip
ENCODERS = ["utf-8", "latin-1", "utf-16", "cp1252", "shift_jis", "koi8-r", "utf-7"]

# --- Values ---------------------------------------------------------------------------------------------

surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
escaped_bytes = st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF)  # surrogateescape's stand-ins
controls = st.characters(max_codepoint=0x1F) | st.sampled_from("\x7f\x85\u2028\u2029\ufeff\ufffe\u202e\x00")
any_char = st.characters() | surrogates | escaped_bytes | controls
nasty_text = st.text(any_char, max_size=60)
huge_text = st.sampled_from([1000, 65_526, 70_000, 300_000]).flatmap(
    lambda n: st.sampled_from(["x", "é", "€", "\x00", "<", "𝄞"]).map(lambda ch: ch * (n // len(ch.encode())))
)
numbers = st.sampled_from(["0", "-1", "1.5", "1e3", "²", "١", " 1", "99999999999999999999999", "0x1", ""])
ordinary = st.text(string.ascii_letters + string.digits + " .,!?-'", min_size=1, max_size=40)
emails = st.builds("{}@example.com".format, st.text(string.ascii_lowercase, min_size=1, max_size=12))
urls = st.builds("https://example.com/{}".format, st.text(string.ascii_lowercase + "/-_", min_size=6, max_size=30))


def good_reply_value(name: str, post: Post) -> st.SearchStrategy[str]:
    return {
        "comment": ordinary,
        "author": ordinary,
        "email": emails,
        "url": st.just("") | urls,
        "comment_post_ID": st.just(str(post.pk)),
        "comment_parent": st.just("0") | st.just(""),
        "hp_homepage": st.just(""),
        "wp-comment-cookies-consent": st.just("yes"),
        "submit": st.just("Post Comment"),
    }.get(name, ordinary)


def field_values(good: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    """Absent, once (usually well-formed), or repeated; a value may be nasty, numeric or huge."""
    one = st.one_of(good, good, good, nasty_text, numbers, huge_text)
    return st.one_of(st.just([]), one.map(lambda v: [v]), one.map(lambda v: [v]), st.lists(one, min_size=2, max_size=4))


MUTATIONS = ["drop", "repeat", "nasty", "number", "huge", "unknown"]


@st.composite
def field_pairs(draw: st.DrawFn, names: list[str], good_of) -> list[tuple[str, str]]:
    """Three senders, equally likely: a well-behaved one (every field once, well-formed), one that gets one
    or two things wrong, and one that gets anything wrong. Without the first two, nearly every input would
    be refused at the first check and the code behind it never reached."""
    sender = draw(st.sampled_from(["good", "one-off", "chaos"]))
    if sender == "chaos":
        pairs = []
        for name in names:
            pairs += [(name, value) for value in draw(field_values(good_of(name)))]
        pairs += draw(st.lists(st.tuples(nasty_text, nasty_text), max_size=3))  # unknown fields
        return draw(st.permutations(pairs)) if len(pairs) < 12 else pairs
    pairs = [(name, draw(good_of(name))) for name in names]
    if sender == "one-off":
        for _ in range(draw(st.integers(1, 2))):
            index = draw(st.integers(0, len(pairs) - 1))
            name = pairs[index][0]
            mutation = draw(st.sampled_from(MUTATIONS))
            if mutation == "drop":
                del pairs[index]
            elif mutation == "repeat":
                pairs.insert(index, (name, draw(good_of(name) | nasty_text)))
            elif mutation == "unknown":
                pairs.append((draw(nasty_text), draw(nasty_text)))
            else:
                strategy = {"nasty": nasty_text, "number": numbers, "huge": huge_text}[mutation]
                pairs[index] = (name, draw(strategy))
            if not pairs:
                break
    return pairs


# --- Bodies ---------------------------------------------------------------------------------------------


def to_bytes(text: str, codec: str = "utf-8") -> bytes:
    """Surrogates become bytes that are not UTF-8, as broken clients send them: U+DC80..U+DCFF the single
    byte they stand for (`surrogateescape`, how Python smuggles undecodable bytes through str), any other
    lone surrogate its three-byte encoding (`surrogatepass`, CESU-style)."""
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        return b"".join(
            ch.encode("utf-8", "surrogateescape" if "\udc80" <= ch <= "\udcff" else "surrogatepass") for ch in text
        )
    return text.encode(codec, "replace")


def urlencoded(pairs: list[tuple[str, str]], codec: str = "utf-8", raw: bool = False) -> bytes:
    if raw:
        return b"&".join(to_bytes(k, codec) + b"=" + to_bytes(v, codec) for k, v in pairs)
    return "&".join(f"{quote(to_bytes(k, codec))}={quote(to_bytes(v, codec))}" for k, v in pairs).encode("ascii")


def multipart(pairs: list[tuple[str, str]], boundary: str = BOUNDARY) -> bytes:
    """By hand, so field names and values go out as the raw bytes given (quotes, newlines and all)."""
    parts = [
        b"--" + boundary.encode() + b'\r\nContent-Disposition: form-data; name="' + to_bytes(k) + b'"\r\n\r\n'
        + to_bytes(v) + b"\r\n"
        for k, v in pairs
    ]  # fmt: skip
    return b"".join(parts) + b"--" + boundary.encode() + b"--\r\n"


# What a server passes on in a header value: Latin-1 without control characters but tab. Gunicorn (and
# granian) refuse the others with 400 before the application sees the request; Django's own request
# constructor cannot take a NUL in a charset parameter (ValueError from codecs.lookup, outside any handler).
header_chars = st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f") | st.just("\t")
content_types = st.one_of(
    st.just(FORM),
    st.sampled_from(CHARSETS).map(f"{FORM}; charset={{}}".format),
    st.just(f"multipart/form-data; boundary={BOUNDARY}"),
    st.sampled_from(ODD_TYPES),
    st.text(header_chars, max_size=60),
)
user_agents = st.one_of(st.none(), st.just("Mozilla/5.0"), st.text(header_chars, max_size=300))


@st.composite
def requests(draw: st.DrawFn, pairs_strategy: st.SearchStrategy, codecs: list[str]) -> tuple[bytes, str, dict]:
    """A body, its Content-Type and extra headers: mostly a matching body and type, sometimes anything."""
    pairs = draw(pairs_strategy)
    shape = draw(st.sampled_from(["form", "form", "form", "raw", "multipart", "bytes"]))
    codec = draw(st.just(codecs[0]) | st.sampled_from(codecs))
    if shape == "form":
        body = urlencoded(pairs, codec)
        content_type = draw(st.sampled_from([FORM, f"{FORM}; charset={codec}"]) | content_types)
    elif shape == "raw":
        body, content_type = urlencoded(pairs, codec, raw=True), draw(st.just(FORM) | content_types)
    elif shape == "multipart":
        body = multipart(pairs)
        content_type = draw(st.just(f"multipart/form-data; boundary={BOUNDARY}") | content_types)
    else:
        body, content_type = draw(st.binary(max_size=3000)), draw(content_types)
    headers = {}
    agent = draw(user_agents)
    if agent is not None:
        headers["HTTP_USER_AGENT"] = agent
    return body, content_type, headers


def send(client: Client, path: str, request: tuple[bytes, str, dict]):
    body, content_type, headers = request
    # generic() sends the bytes as they are; post() would try to re-encode them for some charsets.
    return client.generic("POST", path, body, content_type=content_type, **headers)


@pytest.fixture
def fuzz_site(settings):
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 0


def reader_on(post: Post, fetch_site: str) -> Client:
    """A browser that opened the page and posts with the Sec-Fetch-Site it is given."""
    reader = Client(enforce_csrf_checks=True, headers={"Sec-Fetch-Site": fetch_site})
    reader.get(post.get_absolute_url())
    return reader


# --- The properties -------------------------------------------------------------------------------------


def reply_pairs(post: Post) -> st.SearchStrategy[list[tuple[str, str]]]:
    return field_pairs(REPLY_FIELDS, lambda name: good_reply_value(name, post))


def post_reply_storing_at_most_one(client, request) -> int:
    """Send one fuzzed reply: never a 500, and one new row exactly when the answer says it was stored."""
    before = Comment.objects.count()
    response = send(client, REPLY_URL, request)
    added = Comment.objects.count() - before
    assert response.status_code < 500
    assert added in (0, 1)
    assert (added == 1) == (response.status_code == 302), (response.status_code, added)
    return response.status_code


def test_reply_from_the_page_never_fails(post, fuzz_site):
    reader = reader_on(post, "same-origin")
    outcomes: Counter[int] = Counter()

    @FUZZ
    @given(requests(reply_pairs(post), ["utf-8"]))
    def check(request):
        outcomes[post_reply_storing_at_most_one(reader, request)] += 1

    check()
    print(f"reply from the page: {outcomes.total()} inputs, answers {sorted(outcomes.items())}")
    # The generator reaches both ends: replies stored, and replies refused by the form.
    assert outcomes[302] > 0 and outcomes[400] > 0, outcomes


def test_reply_from_another_site_never_fails_and_never_stores(post, fuzz_site):
    reader = reader_on(post, "cross-site")
    outcomes: Counter[int] = Counter()

    @FUZZ
    @given(requests(reply_pairs(post), ["utf-8"]))
    def check(request):
        before = Comment.objects.count()
        response = send(reader, REPLY_URL, request)
        assert response.status_code in (400, 403, 413), response.status_code
        assert Comment.objects.count() == before
        outcomes[response.status_code] += 1

    check()
    print(f"reply from another site: {outcomes.total()} inputs, answers {sorted(outcomes.items())}")
    assert outcomes[403] > 0, outcomes


def test_reply_from_a_client_without_browser_headers_never_fails(post, fuzz_site):
    """A script (no Origin, no Sec-Fetch-Site): every input reaches the view and the rules."""
    outcomes: Counter[int] = Counter()

    @FUZZ
    @given(requests(reply_pairs(post), ["utf-8", "latin-1", "utf-16"]))
    def check(request):
        outcomes[post_reply_storing_at_most_one(Client(), request)] += 1

    check()
    print(f"reply without browser headers: {outcomes.total()} inputs, answers {sorted(outcomes.items())}")
    assert outcomes[302] > 0 and outcomes[400] > 0, outcomes


def good_ping_value(name: str) -> st.SearchStrategy[str]:
    return {"url": urls, "title": ordinary, "excerpt": ordinary, "blog_name": ordinary,
            "charset": st.just("utf-8") | st.sampled_from(CHARSETS)}.get(name, ordinary)  # fmt: skip


def test_trackback_never_fails(post, fuzz_site):
    outcomes: Counter[str] = Counter()

    @FUZZ
    @given(requests(field_pairs(PING_FIELDS, good_ping_value), ENCODERS), st.sampled_from([True, True, True, False]))
    # Found by this test: codecs that raise instead of replacing (punycode, idna) once crashed decoding.
    @example((b"url=https%3A//example.com/p&title=T&charset=punycode", FORM, {}), True)
    @example((b"url=https%3A//example.com/i&title=%FF&charset=idna", FORM, {}), True)
    def check(request, existing_post):
        path = post.get_trackback_url() if existing_post else "/no-such-post/trackback/"
        before = Comment.objects.count()
        response = send(Client(), path, request)
        added = Comment.objects.count() - before
        assert response.status_code < 500
        assert response["Content-Type"] == "text/xml; charset=utf-8"
        root = ElementTree.fromstring(response.content)
        error = root.findtext("error")
        assert root.tag == "response" and error in ("0", "1"), response.content
        assert (added == 1) == (error == "0"), (response.content, added)
        assert added in (0, 1)
        outcomes["stored" if added else "refused"] += 1

    check()
    print(f"trackback: {outcomes.total()} inputs, {dict(outcomes)}")
    assert outcomes["stored"] > 0 and outcomes["refused"] > 0, outcomes
