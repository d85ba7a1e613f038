"""Request limits: bodies too large are refused with 413 before anything reads them, malformed forms get 400
(never a 500, never text stored garbled). The admin login's brake: tests/test_loginlimit.py."""

from __future__ import annotations

import io
import re
from urllib.parse import quote
from xml.etree import ElementTree

import pytest
from django.conf import settings
from django.test import Client
from django.test.client import encode_multipart

from archive.models import Comment, Post

FORM = "application/x-www-form-urlencoded"
REPLY_URL = "/comments/post/"
TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


class UnreadableInput(io.RawIOBase):
    """A request body that fails the test if anything reads it."""

    def __init__(self) -> None:
        self.reads = 0

    def read(self, size: int = -1) -> bytes:
        self.reads += 1
        raise AssertionError("the body was read")

    readline = read


class CountingInput(io.BytesIO):
    """A body whose bytes read are counted, to prove a chunked body is read only up to the limit + 1."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data


def form_body(fields: list[tuple[str, str]]) -> bytes:
    return "&".join(f"{quote(k)}={quote(v)}" for k, v in fields).encode("ascii")


def reply_fields(post: Post, comment: str = "Hello there", **extra: str) -> list[tuple[str, str]]:
    fields = {"comment": comment, "author": "Ann", "email": "ann@example.com", "url": "",
              "comment_post_ID": str(post.pk), "comment_parent": "0", **extra}  # fmt: skip
    return list(fields.items())


def xml_error(response) -> str:
    """The TrackBack error message of an XML answer (fails unless it is the spec's error 1)."""
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    root = ElementTree.fromstring(response.content)
    assert root.tag == "response" and root.findtext("error") == "1", response.content
    return root.findtext("message") or ""


@pytest.fixture
def open_site(settings):
    settings.ARCHIVE_COMMENT_MODERATION = "open"
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 0


# --- 413 ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path_of", "limit_name"),
    [(lambda post: REPLY_URL, "ARCHIVE_MAX_FORM_BYTES"), (Post.get_trackback_url, "ARCHIVE_MAX_TRACKBACK_BYTES")],
    ids=["reply", "trackback"],
)
def test_declared_length_over_the_limit_is_refused_unread(post, path_of, limit_name):
    body = UnreadableInput()
    response = Client().generic(
        "POST", path_of(post), CONTENT_TYPE=FORM, CONTENT_LENGTH=str(getattr(settings, limit_name) + 1),
        **{"wsgi.input": body},
    )  # fmt: skip
    assert response.status_code == 413
    assert body.reads == 0
    assert not Comment.objects.exists()


def test_reply_413_is_a_short_text(post):
    response = Client().post(REPLY_URL, b"comment=" + b"x" * settings.ARCHIVE_MAX_FORM_BYTES, content_type=FORM)
    assert response.status_code == 413
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert str(settings.ARCHIVE_MAX_FORM_BYTES) in response.content.decode()
    assert len(response.content) < 200


def test_trackback_413_is_trackback_xml(post):
    body = b"url=https://example.com/&excerpt=" + b"x" * settings.ARCHIVE_MAX_TRACKBACK_BYTES
    response = Client().post(post.get_trackback_url(), body, content_type=FORM)
    assert response.status_code == 413
    assert "too large" in xml_error(response)
    assert not Comment.objects.exists()


def test_trackback_limit_is_smaller_than_the_form_limit(post):
    """A body between the two limits is a TrackBack's 413 but fine for the form (which then says why not)."""
    assert settings.ARCHIVE_MAX_TRACKBACK_BYTES < settings.ARCHIVE_MAX_FORM_BYTES
    padding = "x" * (settings.ARCHIVE_MAX_TRACKBACK_BYTES + 10)
    assert (
        Client().post(post.get_trackback_url(), {"url": "https://example.com/", "excerpt": padding}).status_code == 413
    )
    response = Client().post(REPLY_URL, form_body([*reply_fields(post), ("pad", padding)]), content_type=FORM)
    assert response.status_code == 302


def test_a_body_exactly_at_the_limit_passes(post, open_site):
    fields = reply_fields(post)
    body = form_body(fields)
    padded = body + b"&pad=" + b"y" * (settings.ARCHIVE_MAX_FORM_BYTES - len(body) - len(b"&pad="))
    assert len(padded) == settings.ARCHIVE_MAX_FORM_BYTES
    assert Client().post(REPLY_URL, padded, content_type=FORM).status_code == 302
    assert Client().post(REPLY_URL, padded + b"y", content_type=FORM).status_code == 413
    assert Comment.objects.count() == 1


@pytest.mark.parametrize("marker", [{"HTTP_TRANSFER_ENCODING": "chunked"}, {"wsgi.input_terminated": True}],
                         ids=["transfer-encoding", "input-terminated"])  # fmt: skip
@pytest.mark.parametrize(
    ("path_of", "limit_name"),
    [(lambda post: REPLY_URL, "ARCHIVE_MAX_FORM_BYTES"), (Post.get_trackback_url, "ARCHIVE_MAX_TRACKBACK_BYTES")],
    ids=["reply", "trackback"],
)
def test_body_of_unknown_length_is_read_only_to_the_limit(post, path_of, limit_name, marker):
    """Chunked: the server de-chunks and sends no Content-Length, so the limit is applied while reading."""
    limit = getattr(settings, limit_name)
    body = CountingInput(b"comment=" + b"z" * (4 * limit))
    response = Client().generic("POST", path_of(post), CONTENT_TYPE=FORM, **{"wsgi.input": body}, **marker)
    assert response.status_code == 413
    assert body.bytes_read == limit + 1
    assert not Comment.objects.exists()


def test_chunked_ping_within_the_limit_reaches_the_view(post):
    """Django alone would read nothing of a body without Content-Length; the middleware hands it over."""
    body = CountingInput(b"url=https%3A%2F%2Fexample.com%2Fchunked&title=Chunked&blog_name=Chunks")
    response = Client().generic(
        "POST", post.get_trackback_url(), CONTENT_TYPE=FORM, HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input": body},
    )  # fmt: skip
    assert response.status_code == 200
    assert b"<error>0</error>" in response.content
    assert Comment.objects.get().author_url == "https://example.com/chunked"


def test_chunked_reply_within_the_limit_is_stored(post, open_site):
    body = CountingInput(form_body(reply_fields(post, "Sent in chunks")))
    response = Client().generic("POST", REPLY_URL, CONTENT_TYPE=FORM, HTTP_TRANSFER_ENCODING="chunked",
                                **{"wsgi.input": body})  # fmt: skip
    assert response.status_code == 302
    assert Comment.objects.get().content == "Sent in chunks"


@pytest.mark.parametrize("value", ["abc", "-1", "1e3", " ", "+9", "1_0", "٣"])
def test_malformed_content_length_is_400(post, value):
    response = Client().generic("POST", REPLY_URL, CONTENT_TYPE=FORM, CONTENT_LENGTH=value,
                                **{"wsgi.input": io.BytesIO(b"comment=x")})  # fmt: skip
    assert response.status_code == 400


# --- 400 for malformed forms ----------------------------------------------------------------------------
# Sent as a browser would, from the page itself, with CSRF checks on. That matters: Django's 400 handler
# checks CSRF again, and with it on, a parse error could come back as a 500.


def browser(post: Post) -> Client:
    reader = Client(enforce_csrf_checks=True, headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"})
    reader.get(post.get_absolute_url())
    return reader


@pytest.mark.parametrize(
    "body",
    [
        b"comment=%FF%FE%FD",  # not UTF-8 at all
        b"comment=caf%E9",  # Latin-1
        b"comment=%C0%AF",  # overlong encoding of "/"
        b"comment=%ED%A0%80",  # an encoded surrogate
        b"comment=%F4%90%80%80",  # beyond U+10FFFF
        b"comment=ok&author=%E2%82",  # truncated sequence
        "comment=caf\xe9".encode("latin-1"),  # raw, not percent-encoded
        b"co%FFmment=x",  # in a field name
    ],
)
@pytest.mark.parametrize("content_type", [FORM, f"{FORM}; charset=utf-8", f"{FORM}; charset=UTF-8"])
def test_invalid_utf8_in_a_form_is_400_and_stores_nothing(post, open_site, body, content_type):
    reader = browser(post)
    fields = form_body([(k, v) for k, v in reply_fields(post) if k != "comment"])
    # generic(): post() would re-encode a body sent with "charset=UTF-8", failing on the very bytes we send.
    response = reader.generic("POST", REPLY_URL, fields + b"&" + body, content_type=content_type)
    assert response.status_code == 400
    assert b"UTF-8" in response.content
    assert not Comment.objects.exists()


def test_valid_utf8_raw_or_encoded_is_accepted(post, open_site):
    """The check refuses only what is broken: UTF-8 sent raw (not percent-encoded) is fine, as Django reads it."""
    reader = browser(post)
    fields = form_body([(k, v) for k, v in reply_fields(post) if k != "comment"])
    response = reader.generic("POST", REPLY_URL, fields + "&comment=café ☕ 𝄞".encode(), content_type=FORM)
    assert response.status_code == 302
    assert Comment.objects.get().content == "café ☕ 𝄞"


@pytest.mark.parametrize("charset", ["iso-8859-1", "utf-16", "utf8", "UTF_8", "ascii"])
def test_form_in_another_charset_is_400(post, open_site, charset):
    """Django refuses these itself (BadRequest), but its 400 handler reads the form again and fails: 500."""
    reader = browser(post)
    body = form_body(reply_fields(post))
    response = reader.generic("POST", REPLY_URL, body, content_type=f"{FORM}; charset={charset}")
    assert response.status_code == 400
    assert b"UTF-8" in response.content
    assert not Comment.objects.exists()


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=\x00\x01"],
)
def test_malformed_multipart_is_400(post, content_type):
    reader = browser(post)
    response = reader.generic(
        "POST", REPLY_URL, b"--x\r\nContent-Disposition: form-data\r\n\r\nzzz", content_type=content_type
    )
    assert response.status_code == 400
    assert not Comment.objects.exists()


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_field_counts(post, open_site, encoding):
    """DATA_UPLOAD_MAX_NUMBER_FIELDS fields pass; one more is 400, for both form encodings."""
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    reader = browser(post)

    def send(count: int, comment: str):
        fields = reply_fields(post, comment)
        fields += [(f"extra{n}", "") for n in range(count - len(fields))]
        if encoding == "urlencoded":
            return reader.generic("POST", REPLY_URL, form_body(fields), content_type=FORM)
        boundary = "BoUnDaRy"
        body = encode_multipart(boundary, dict(fields))
        return reader.generic("POST", REPLY_URL, body, content_type=f"multipart/form-data; boundary={boundary}")

    assert send(limit, "Exactly enough").status_code == 302
    assert send(limit + 1, "One too many").status_code == 400
    assert send(10 * limit, "Far too many").status_code == 400
    assert list(Comment.objects.values_list("content", flat=True)) == ["Exactly enough"]


def test_too_many_fields_in_a_ping_is_a_trackback_error(post):
    body = b"url=https://example.com/&" + b"&".join(b"f%d=1" % n for n in range(500))
    response = Client().post(post.get_trackback_url(), body, content_type=FORM)
    assert response.status_code == 200
    assert xml_error(response)
    assert not Comment.objects.exists()


def test_trackback_charsets_are_left_to_the_protocol(post):
    """A Latin-1 ping that names its charset in a form field is decoded by TrackBack's rules, not refused."""
    body = b"url=https%3A%2F%2Fexample.com%2Fl1&title=Caf%E9&charset=iso-8859-1"
    response = Client().post(post.get_trackback_url(), body, content_type=FORM)
    assert b"<error>0</error>" in response.content
    assert Comment.objects.get().title == "Café"


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded; charset*=bogus''utf-8",
                                          "text/plain; title*=nope''x"])  # fmt: skip
def test_unparsable_content_type_is_400_at_the_wsgi_entry(post, content_type):
    """Django raises while building such a request (a 500 from the server); the WSGI guard answers 400."""
    import io

    from archive.wsgi import application

    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/comments/post/", "QUERY_STRING": "", "SERVER_NAME": "testserver",
        "SERVER_PORT": "80", "HTTP_HOST": "testserver", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b"a=b"),
        "CONTENT_LENGTH": "3", "CONTENT_TYPE": content_type, "wsgi.errors": io.StringIO(), "wsgi.version": (1, 0),
        "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False, "SERVER_PROTOCOL": "HTTP/1.1",
    }  # fmt: skip
    seen = {}
    body = b"".join(application(environ, lambda status, headers, exc=None: seen.update(status=status)))
    assert seen["status"].startswith("400")
    assert b"Content-Type" in body
