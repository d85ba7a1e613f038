"""How a post says where to ping it, and how we find where to ping others.

Receiving: `headers()` are the HTTP headers the article carries (X-Pingback, and Link rel="webmention";
absolute URLs, since some senders mishandle relative ones), only while the post's pings are open, as
WordPress does. The page cache keeps the headers a view set and replays them on hits, so HEAD and cached
GETs carry them too; nginx can add the same from `headers()`. The template's <link>s come from
`endpoints()` as well (templatetags/pings.py), so the header and the markup cannot disagree.

Sending: `webmention_endpoint()` and `pingback_server()` follow each spec's discovery rules.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

from bs4 import BeautifulSoup
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.http import parse_header_parameters

from ..models import Post
from .fetch import Fetched

LINK_VALUE = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]*)*)")
PINGBACK_LINK = re.compile(rb"""<link\s[^>]*rel=["']?pingback["']?[^>]*>""", re.IGNORECASE)


def endpoints(request: HttpRequest) -> dict[str, str]:
    """The absolute URLs of our Pingback server and Webmention endpoint, for this request's host."""
    return {
        "pingback": request.build_absolute_uri(reverse("archive:pingback")),
        "webmention": request.build_absolute_uri(reverse("archive:webmention")),
    }


def headers(request: HttpRequest, post: Post) -> dict[str, str]:
    """The discovery headers of `post`'s page (none while its pings are closed)."""
    if not post.pings_open:
        return {}
    urls = endpoints(request)
    return {"X-Pingback": urls["pingback"], "Link": f'<{urls["webmention"]}>; rel="webmention"'}


def add_headers(response: HttpResponse, request: HttpRequest, post: Post) -> None:
    for name, value in headers(request, post).items():
        response[name] = value


def link_header_targets(value: str, rel: str) -> list[str]:
    """The URLs of a Link header (RFC 8288) whose rel list contains `rel`, in order."""
    found = []
    for match in LINK_VALUE.finditer(value or ""):
        _, params = parse_header_parameters("x" + match.group(2))
        if rel in params.get("rel", "").lower().split():
            found.append(match.group(1).strip())
    return found


def webmention_endpoint(target: Fetched) -> str | None:
    """Webmention §3.1.2: the first Link header with rel=webmention, else the first <link> or <a> with it
    in document order; relative URLs resolved against the (final) target URL, the query string kept."""
    for value in target.headers.get_all("Link") or []:
        urls = link_header_targets(value, "webmention")
        if urls:
            return urljoin(target.url, urls[0])
    if target.content_type not in ("text/html", "application/xhtml+xml"):
        return None
    soup = BeautifulSoup(target.body.decode(target.charset, "replace"), "html.parser")
    for element in soup.find_all(["link", "a"]):
        rels = element.get("rel") or []
        if "webmention" in [r.lower() for r in rels] and element.has_attr("href"):
            return urljoin(target.url, element["href"])
    return None


def pingback_server(target: Fetched) -> str | None:
    """Pingback §2: the X-Pingback header, else the first <link rel="pingback" href="…">."""
    header = target.headers.get("X-Pingback")
    if header:
        return header.strip()
    match = PINGBACK_LINK.search(target.body)
    if match:
        href = re.search(rb"""href=["']([^"']+)["']""", match.group(0))
        if href:
            return urljoin(target.url, href.group(1).decode("utf-8", "replace").replace("&amp;", "&"))
    return None
