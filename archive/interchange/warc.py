"""The archive as one WARC 1.1 file (warcio, gzipped per record), the container replay tools read.

Per post: its original as a `resource` record (the seed's bytes, or the export's <item>), then each page
a reader can fetch — the article, its older comment pages, its comment feeds — as the `response` the site
gives (rendered through Django's own request handler, every middleware included, so the status line,
headers and body are those a reader gets) and the `request` that asked for it. warcio writes each record's
WARC-Block-Digest and WARC-Payload-Digest.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import version
from io import BytesIO
from typing import BinaryIO
from urllib.parse import urlsplit

import django
from django.test import Client
from django.urls import reverse
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from .. import threads
from ..models import Post

USER_AGENT = "wp-archive export_warc"


def page_paths(post: Post) -> list[str]:
    """The article, every older page of its threads, and its comment feeds (RSS and Atom)."""
    pages = threads.thread_page(post, None, frozenset()).num_pages
    return [
        post.get_absolute_url(),
        *(reverse("archive:post-comments", args=[post.slug, n]) for n in range(1, pages)),
        reverse("archive:post-comments-feed", args=[post.slug]),
        reverse("archive:post-comments-feed-atom", args=[post.slug]),
    ]


class Capture:
    """Fetches pages through Django's handler as a reader's browser would, and writes them as records."""

    def __init__(self, writer: WARCWriter, base_url: str):
        parts = urlsplit(base_url)
        self.writer, self.base_url, self.host = writer, base_url.rstrip("/"), parts.netloc
        self.client = Client(HTTP_HOST=parts.netloc, HTTP_USER_AGENT=USER_AGENT, secure=parts.scheme == "https")

    def page(self, path: str) -> int:
        answer = self.client.get(path)
        uri = self.base_url + path
        reason = answer.reason_phrase
        headers = StatusAndHeaders(f"{answer.status_code} {reason}", list(answer.items()), protocol="HTTP/1.1")
        response = self.writer.create_warc_record(
            uri, "response", payload=BytesIO(answer.content), length=len(answer.content), http_headers=headers
        )
        asked = StatusAndHeaders(
            f"GET {path} HTTP/1.1",
            [("Host", self.host), ("User-Agent", USER_AGENT), ("Accept", "*/*")],
            is_http_request=True,
        )
        request = self.writer.create_warc_record(
            uri, "request", http_headers=asked,
            warc_headers_dict={"WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID")},
        )  # fmt: skip
        self.writer.write_record(response)
        self.writer.write_record(request)
        return answer.status_code

    def original(self, post: Post) -> None:
        raw = bytes(post.original)
        content_type = "application/xml" if post.is_html else f"text/plain; charset={post.original_charset}"
        record = self.writer.create_warc_record(
            self.base_url + post.get_original_url(), "resource",
            payload=BytesIO(raw), length=len(raw), warc_content_type=content_type,
        )  # fmt: skip
        self.writer.write_record(record)


def export(stream: BinaryIO, *, base_url: str, filename: str) -> Iterator[str]:
    """Write the WARC to `stream`; yields a line per post."""
    writer = WARCWriter(stream, gzip=True, warc_version="1.1")
    info = {
        "software": f"wp-archive (Django {django.get_version()}), warcio {version('warcio')}",
        "format": "WARC File Format 1.1",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        "description": f"The posts, responses and feeds archived at {base_url}",
    }
    writer.write_record(writer.create_warcinfo_record(filename, info))
    capture = Capture(writer, base_url)
    for post in Post.objects.order_by("pk").iterator(chunk_size=50):
        capture.original(post)
        statuses = [capture.page(path) for path in page_paths(post)]
        yield f"{post.get_absolute_url()}: original and {len(statuses)} pages ({', '.join(map(str, statuses))})"
