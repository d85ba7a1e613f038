"""The TrackBack 1.2 protocol: decoding a ping (in whatever charset it came), the XML answers, the
autodiscovery RDF, and the sending side. Which pings are stored is `policy`'s business.

Where the spec is silent we follow WordPress and Movable Type: a `charset` form field names the encoding
when the Content-Type header does not; a missing title becomes the url (Movable Type); title and excerpt are
cut to 250 and 252 characters plus "…" (WordPress). UTF-7 is refused outright: decoded, it smuggles
`<script>` past every filter that looks for `<`.
"""

from __future__ import annotations

import codecs
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit
from xml.etree import ElementTree

from django.core.exceptions import TooManyFieldsSent
from django.http import QueryDict
from django.utils.html import escape
from django.utils.http import parse_header_parameters

from . import markup

FORM_TYPE = "application/x-www-form-urlencoded"
TITLE_MAX = 250
EXCERPT_MAX = 252
BLOG_NAME_MAX = 255
URL_MAX = 200
ELLIPSIS = "…"
WHITESPACE = re.compile(r"\s+")


class PingError(ValueError):
    """A ping the protocol cannot accept; the message goes back to the sender in <message>."""


@dataclass(frozen=True)
class Ping:
    url: str
    title: str
    excerpt: str
    blog_name: str
    charset: str


def response_xml(message: str | None = None) -> bytes:
    """The spec's answer: error 0, or error 1 with a message (XML-escaped)."""
    if message is None:
        body = "<response>\n<error>0</error>\n</response>"
    else:
        body = f"<response>\n<error>1</error>\n<message>{escape(message)}</message>\n</response>"
    return f'<?xml version="1.0" encoding="utf-8"?>\n{body}\n'.encode()


def text_codec(label: str | None) -> str | None:
    """The codec a charset label names, if Python has it as a text encoding; None for unknown labels."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
        b"".decode(name)  # rejects bytes-to-bytes codecs such as base64 and rot13
    except (LookupError, TypeError):
        return None
    return name


def choose_charset(body: bytes, content_type: str) -> str:
    """The Content-Type charset, else a `charset` form field, else UTF-8; unknown labels mean UTF-8."""
    _, params = parse_header_parameters(content_type or "")
    declared = params.get("charset")
    if not declared:
        declared = QueryDict(body, encoding="latin-1").get("charset")
    name = text_codec(declared) or "utf-8"
    if name == "utf-7":
        raise PingError("UTF-7 is not accepted; send the ping in UTF-8.")
    return name


def clean_text(value: str, limit: int) -> str:
    """Tags stripped, then entities decoded (WordPress sends `Putin&#8217;s`), spaces collapsed, cut."""
    text = WHITESPACE.sub(" ", markup.plain_text(value.replace("\x00", ""))).strip()
    return text if len(text) <= limit else text[:limit].rstrip() + ELLIPSIS


def valid_source_url(url: str) -> bool:
    if len(url) > URL_MAX or any(ch.isspace() or ch in "<>\"'" for ch in url):
        return False
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def decode(body: bytes, content_type: str) -> Ping:
    media_type, _ = parse_header_parameters(content_type or "")
    if media_type and media_type != FORM_TYPE:
        raise PingError(f"Send the ping as {FORM_TYPE}, as the TrackBack specification requires.")
    try:
        charset = choose_charset(body, content_type)
        fields = QueryDict(body, encoding=charset)
    except TooManyFieldsSent:
        raise PingError("The ping has too many fields.") from None
    url = fields.get("url", "").replace("\x00", "").strip()
    if not url:
        raise PingError("The ping has no url: TrackBack requires the url of the post that links here.")
    if not valid_source_url(url):
        raise PingError(f"The url must be an absolute http or https address of at most {URL_MAX} characters.")
    return Ping(
        url=url,
        title=clean_text(fields.get("title", ""), TITLE_MAX) or url,
        excerpt=clean_text(fields.get("excerpt", ""), EXCERPT_MAX),
        blog_name=clean_text(fields.get("blog_name", ""), BLOG_NAME_MAX),
        charset=charset,
    )


def rdf_block(permalink: str, ping_url: str, title: str) -> str:
    """The autodiscovery RDF, inside an HTML comment. `--` in the title would end the comment early."""
    safe_title = escape(markup.plain_text(title)).replace("--", "&#x2d;&#x2d;")
    return (
        "<!--\n"
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"\n'
        '         xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '         xmlns:trackback="http://madskills.com/public/xml/rss/module/trackback/">\n'
        "<rdf:Description\n"
        f'    rdf:about="{escape(permalink)}"\n'
        f'    dc:identifier="{escape(permalink)}"\n'
        f'    dc:title="{safe_title}"\n'
        f'    trackback:ping="{escape(ping_url)}" />\n'
        "</rdf:RDF>\n"
        "-->"
    )


@dataclass(frozen=True)
class Answer:
    error: bool
    message: str


def parse_answer(body: bytes) -> Answer:
    """Read a receiver's XML answer. Raises PingError when it is not the spec's <response>."""
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 (an answer of at most a few KB, no DTD allowed)
    except ElementTree.ParseError as exc:
        raise PingError(f"the answer is not XML ({exc})") from None
    error = (root.findtext("error") or "").strip()
    if root.tag != "response" or error not in ("0", "1"):
        raise PingError("the answer is not a TrackBack <response>")
    return Answer(error == "1", (root.findtext("message") or "").strip())


def send(ping_url: str, *, url: str, title: str = "", excerpt: str = "", blog_name: str = "",
         timeout: float = 10.0) -> Answer:  # fmt: skip
    """Send a ping as WordPress's trackback() does: form-encoded UTF-8, the charset named in the header.

    Raises PingError for a transport failure or an answer that is not TrackBack's.
    """
    data = urlencode({"title": title, "url": url, "blog_name": blog_name, "excerpt": excerpt}).encode()
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked just below)
        ping_url, data=data, method="POST", headers={"Content-Type": f"{FORM_TYPE}; charset=utf-8"}
    )
    if urlsplit(ping_url).scheme not in ("http", "https"):
        raise PingError("the ping URL must be http or https")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:  # noqa: S310
            body = reply.read(65536)
    except urllib.error.HTTPError as exc:
        body = exc.read(65536)  # the answer's XML still tells what went wrong
    except (urllib.error.URLError, OSError) as exc:
        raise PingError(f"could not reach {ping_url}: {getattr(exc, 'reason', exc)}") from None
    return parse_answer(body)
