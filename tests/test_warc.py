"""`export_warc`: one WARC 1.1 file that warcio's own checker passes, whose records hold each original and
each page exactly as the site serves it to a reader."""

import base64
import gzip
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
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


def wayback_binary() -> str | None:
    """pywb's server: $PYWB_WAYBACK, or `wayback` on the PATH or in this venv. pywb pins old versions of
    several packages, so it is best installed in a venv of its own (`python -m venv /opt/pywb && /opt/pywb/bin/pip
    install pywb`, then PYWB_WAYBACK=/opt/pywb/bin/wayback)."""
    found = os.environ.get("PYWB_WAYBACK") or shutil.which("wayback")
    beside = Path(sys.executable).with_name("wayback")
    return found or (str(beside) if beside.exists() else None)


WAYBACK = wayback_binary()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.skipif(WAYBACK is None, reason="pywb not found: set PYWB_WAYBACK to its `wayback` (see wayback_binary)")
def test_pywb_replays_the_article_byte_for_byte(warc, tmp_path):
    manager = Path(WAYBACK).with_name("wb-manager")
    subprocess.run([str(manager), "init", "archive"], cwd=tmp_path, check=True, capture_output=True, timeout=60)
    subprocess.run([str(manager), "add", "archive", str(warc)], cwd=tmp_path, check=True, capture_output=True,
                   timeout=60)  # fmt: skip
    port = free_port()
    server = subprocess.Popen([WAYBACK, "-p", str(port), "-b", "127.0.0.1"], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/archive/2026id_/{BASE}/hello-archive/"  # id_: the bytes as recorded
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url, timeout=10) as answer:  # loopback: the pywb started above
                    replayed = answer.read()
                break
            except (ConnectionError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(timeout=30)
    recorded = next(body for record, body in records(warc) if record.rec_type == "response"
                    and record.rec_headers.get_header("WARC-Target-URI") == f"{BASE}/hello-archive/")  # fmt: skip
    assert replayed == recorded
