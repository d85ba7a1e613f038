"""`export_warc`: one WARC 1.1 file that warcio's own checker passes, whose records hold each original and
each page exactly as the site serves it to a reader."""

import base64
import gzip
import hashlib
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import pytest
from django.test import Client
from warcio.archiveiterator import ArchiveIterator

from archive.models import Post
from tests.wxrhelpers import BLOG, run

pytestmark = pytest.mark.django_db
BASE = "http://127.0.0.1:8000"
WARCIO = Path(sys.executable).with_name("warcio")


@pytest.fixture
def warc(post, tmp_path, settings):
    settings.ARCHIVE_COMMENTS_PER_PAGE = 2  # hello-archive's three public threads make two comment pages
    run("import_wxr", BLOG)
    path = tmp_path / "archive.warc.gz"
    out, err, failed = run("export_warc", path)
    assert not failed, err
    assert "/hello-archive/: original and 4 pages (200, 200, 200, 200)" in out
    return path


def records(path):
    with path.open("rb") as stream:
        for record in ArchiveIterator(stream):
            yield record, record.content_stream().read()


def test_warcio_check_passes(warc):
    result = subprocess.run([str(WARCIO), "check", "-v", str(warc)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "digest pass" in result.stdout and "fail" not in result.stdout


def test_every_record_is_its_own_gzip_member_and_warc_1_1(warc):
    data = warc.read_bytes()
    first = gzip.GzipFile(fileobj=BytesIO(data))
    assert first.read(9) == b"WARC/1.1\r"
    with warc.open("rb") as stream:
        offsets = [r.rec_headers.get_header("WARC-Type") for r in ArchiveIterator(stream)]
    assert data.count(b"\x1f\x8b\x08") >= len(offsets)  # one gzip member per record
    assert offsets[0] == "warcinfo"


def test_originals_are_resource_records_byte_for_byte(warc):
    found = {}
    for record, body in records(warc):
        if record.rec_type == "resource":
            found[record.rec_headers.get_header("WARC-Target-URI")] = (body, record)
    for post in Post.objects.all():
        body, record = found[f"{BASE}/{post.slug}/original.txt"]
        assert body == bytes(post.original)
        digest = base64.b32encode(hashlib.sha1(body).digest()).decode()  # WARC names payloads by SHA-1
        assert record.rec_headers.get_header("WARC-Payload-Digest") == f"sha1:{digest}"


def test_pages_are_the_bytes_and_headers_a_reader_gets(warc):
    responses, requests = {}, {}
    for record, body in records(warc):
        uri = record.rec_headers.get_header("WARC-Target-URI")
        if record.rec_type == "response":
            responses[uri] = (record, body)
        elif record.rec_type == "request":
            requests[uri] = record
    assert set(responses) >= {
        f"{BASE}/hello-archive/", f"{BASE}/hello-archive/comment-page-1/", f"{BASE}/hello-archive/feed/",
        f"{BASE}/hello-archive/feed/atom/",
    }  # fmt: skip
    record, body = responses[f"{BASE}/hello-archive/"]
    reader = Client(HTTP_HOST="127.0.0.1:8000").get("/hello-archive/")
    assert body == reader.content
    assert record.http_headers.get_statuscode() == "200"
    for name in ("Content-Type", "ETag", "Last-Modified", "Cache-Control", "Content-Security-Policy"):
        assert record.http_headers.get_header(name) == reader[name], name
    assert record.rec_headers.get_header("WARC-Payload-Digest").startswith("sha1:")
    request = requests[f"{BASE}/hello-archive/"]
    assert request.http_headers.protocol == "GET" and request.http_headers.get_header("Host") == "127.0.0.1:8000"
    assert request.rec_headers.get_header("WARC-Concurrent-To") == record.rec_headers.get_header("WARC-Record-ID")
    feed = responses[f"{BASE}/hello-archive/feed/"][1]
    assert b"Ann Reader" in feed and b"Buy now" not in feed
