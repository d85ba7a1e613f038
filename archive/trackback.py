"""The TrackBack 1.2 protocol: decoding a ping (in whatever charset it came), the XML answers, the
autodiscovery RDF, and the sending side. Which pings are stored is `policy`'s business.

Where the spec is silent we follow WordPress and Movable Type: a `charset` form field names the encoding
when the Content-Type header does not; a missing title becomes the url (Movable Type); title and excerpt are
cut to 250 and 252 characters plus "…" (WordPress). UTF-7 is refused outright: decoded, it smuggles
`<script>` past every filter that looks for `<`. ISO-8859-1 and US-ASCII are read as Windows-1252, as
browsers do (the senders who say Latin-1 mostly mean it); a label that names no character set (unknown, or a
Python codec such as base64 or punycode) means UTF-8. A ping that declares no charset is UTF-8 if its bytes
are, else Windows-1252. Only absolute http(s) urls of at most 200 characters
are accepted (the column's size, and WordPress's form limit).
"""

from __future__ import annotations

import codecs
import http.client
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes, urlencode, urlsplit
from xml.etree import ElementTree

from django.core.exceptions import TooManyFieldsSent
from django.http import QueryDict
from django.utils.html import escape
from django.utils.http import parse_header_parameters

from . import markup

FORM_TYPE = "application/x-www-form-urlencoded"
TITLE_MAX = 250
EXCERPT_MAX = 252
BLOG_NAME_MAX = 244  # stored as the author too, a column of 245 characters: 244 plus the ellipsis
URL_MAX = 200
ELLIPSIS = "…"
ANSWER_MAX = 65536
USER_AGENT = "wp-archive send_trackback (TrackBack 1.2)"
WHITESPACE = re.compile(r"\s+")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Labels that senders use for Windows-1252 text, as browsers read them (WHATWG Encoding Standard): a ping
# "in ISO-8859-1" from a Windows blog carries curly quotes as 0x91-0x94, which Latin-1 makes control codes.
WINDOWS_1252_ALIASES = {"iso8859-1", "ascii"}
# Text codecs Python has that are not character sets: they transform text (and may raise UnicodeError on any
# input), so a ping naming one is read as UTF-8, like any other unknown label.
NOT_CHARSETS = {"punycode", "idna", "unicode-escape", "raw-unicode-escape", "undefined", "charmap"}


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
        info = codecs.lookup(label.strip().strip("\"'"))
    except (LookupError, TypeError, ValueError):  # ValueError: a NUL inside the label
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in NOT_CHARSETS:  # base64, rot13, punycode…
        return None
    name = info.name
    return "cp1252" if name in WINDOWS_1252_ALIASES else name


def content_type_parts(content_type: str) -> tuple[str, dict[str, str]]:
    """The media type and its parameters; a header Python's parser chokes on counts as having none."""
    try:
        return parse_header_parameters(content_type or "")
    except ValueError:  # e.g. an RFC 2231 parameter naming an unknown charset
        media_type, _, _ = (content_type or "").partition(";")
        return media_type.strip().lower(), {}


def undeclared_charset(body: bytes) -> str:
    """The charset of a ping that names none: UTF-8 if its bytes (percent-escapes undone) are UTF-8, else
    Windows-1252, as import_seeds reads seeds. WordPress detects the same way (mb_convert_encoding over
    "ASCII, UTF-8, ISO-8859-1, …"), and old blogs sent Latin-1 without saying so."""
    try:
        unquote_to_bytes(body).decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def choose_charset(body: bytes, content_type: str) -> str:
    """The Content-Type charset, else a `charset` form field, else what the bytes are (UTF-8 or
    Windows-1252); a label that names no charset means UTF-8."""
    _, params = content_type_parts(content_type)
    declared = params.get("charset")
    if not declared:
        declared = QueryDict(body, encoding="latin-1").get("charset")
    if not declared:
        return undeclared_charset(body)
    name = text_codec(declared) or "utf-8"
    if name == "utf-7":
        raise PingError("UTF-7 is not accepted; send the ping in UTF-8.")
    return name


def clean_text(value: str, limit: int) -> str:
    """Tags stripped, then entities decoded (WordPress sends `Putin&#8217;s`), control characters dropped,
    spaces collapsed, cut."""
    text = WHITESPACE.sub(" ", CONTROL.sub("", markup.plain_text(CONTROL.sub("", value)))).strip()
    return text if len(text) <= limit else text[:limit].rstrip() + ELLIPSIS


def valid_source_url(url: str) -> bool:
    if len(url) > URL_MAX or CONTROL.search(url) or any(ch.isspace() or ch in "<>\"'`\\" for ch in url):
        return False
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def decode(body: bytes, content_type: str) -> Ping:
    media_type, _ = content_type_parts(content_type)
    if media_type and media_type != FORM_TYPE:
        raise PingError(f"Send the ping as {FORM_TYPE}, as the TrackBack specification requires.")
    try:
        charset = choose_charset(body, content_type)
        try:
            fields = QueryDict(body, encoding=charset)
        except (UnicodeError, ValueError):  # a codec that fails outright instead of replacing bad bytes
            charset = "utf-8"
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
    # Many PHP blogs print a stray newline (or a BOM) before the XML declaration, which XML forbids.
    body = body.removeprefix(codecs.BOM_UTF8).lstrip()
    if re.search(rb"<!ENTITY", body, re.IGNORECASE):  # entity expansion is the one XML bomb expat allows
        raise PingError("the answer declares XML entities, which a TrackBack <response> never needs")
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 (at most ANSWER_MAX bytes, no entity declared)
    except ElementTree.ParseError as exc:
        raise PingError(f"the answer is not XML ({exc})") from None
    error = (root.findtext("error") or "").strip()
    if root.tag != "response" or error not in ("0", "1"):
        raise PingError("the answer is not a TrackBack <response>")
    return Answer(error == "1", (root.findtext("message") or "").strip())


def send(ping_url: str, *, url: str, title: str = "", excerpt: str = "", blog_name: str = "",
         timeout: float = 10.0) -> Answer:  # fmt: skip
    """Send a ping as WordPress's trackback() does: the four fields form-encoded in UTF-8, the charset named
    in the Content-Type header and, for receivers that read only that (WordPress), in a `charset` field.

    Raises PingError for a transport failure or an answer that is not TrackBack's.
    """
    try:
        scheme = urlsplit(ping_url).scheme
    except ValueError:
        scheme = ""
    if scheme not in ("http", "https"):
        raise PingError(f"the ping URL must be an http or https address, not {ping_url!r}")
    fields = {"title": title, "url": url, "blog_name": blog_name, "excerpt": excerpt, "charset": "UTF-8"}
    headers = {"Content-Type": f"{FORM_TYPE}; charset=utf-8", "User-Agent": USER_AGENT}
    try:
        request = urllib.request.Request(ping_url, data=urlencode(fields).encode(), headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=timeout) as reply:  # noqa: S310 (scheme checked above)
                body = reply.read(ANSWER_MAX)
        except urllib.error.HTTPError as exc:
            with exc:
                body = exc.read(ANSWER_MAX)  # a 404 or 403 may still carry TrackBack's XML
    except (OSError, ValueError, http.client.HTTPException) as exc:  # URLError is an OSError
        raise PingError(f"could not reach {ping_url}: {getattr(exc, 'reason', None) or exc}") from None
    return parse_answer(body)
