"""`send_webmention` and `send_pingback`: endpoint discovery as each spec says, against test servers on
127.0.0.1, and both commands against the production server as a subprocess."""

from __future__ import annotations

import subprocess
import sys
from urllib.parse import parse_qs

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from archive.pings import discovery, fetch
from tests.ping_helpers import REPO, SourceSite, html_linking_to
from tests.server import Server

WM_HTML = b'<html><head></head><body><a rel="nofollow webmention" href="/from-a">x</a>' \
          b'<link rel="webmention" href="/from-link"></body></html>'  # fmt: skip


def endpoint(site: SourceSite, path: str) -> str | None:
    return discovery.webmention_endpoint(fetch.fetch(site.url(path)))


def test_webmention_discovery_order_and_relative_urls(site):
    site.page("/header", WM_HTML, headers={"Link": '<https://x.example/a>; rel="other", </wm?token=1>; rel=webmention'})
    site.page("/markup", WM_HTML)
    site.page("/none", b"<p>nothing</p>")
    site.page("/hop", status=302, headers={"Location": "/deeper/markup"})
    site.page("/deeper/markup", b'<link href="endpoint" rel="webmention">')
    assert endpoint(site, "/header") == site.url("/wm?token=1")  # the Link header comes first
    assert endpoint(site, "/markup") == site.url("/from-a")  # then the first <link> or <a>, in order
    assert endpoint(site, "/none") is None
    assert endpoint(site, "/hop") == site.url("/deeper/endpoint")  # relative to the final URL


def test_pingback_discovery_prefers_the_header(site):
    site.page("/both", b'<link rel="pingback" href="/from-link">', headers={"X-Pingback": site.url("/xmlrpc")})
    site.page("/link", b'<head><link rel="pingback" href="/from-link"></head>')
    assert discovery.pingback_server(fetch.fetch(site.url("/both"), method="HEAD")) == site.url("/xmlrpc")
    assert discovery.pingback_server(fetch.fetch(site.url("/link"))) == site.url("/from-link")


def test_send_webmention_keeps_the_endpoint_query_and_posts_a_form(site, capsys):
    site.page("/target", b"<p>hi</p>", headers={"Link": '</wm?csrf=abc>; rel="webmention"'})
    site.page("/wm", b"queued", status=202, content_type="text/plain")
    call_command("send_webmention", "http://a.example/post", site.url("/target"))
    out = capsys.readouterr().out
    assert f"endpoint: {site.url('/wm?csrf=abc')}" in out and "202 queued" in out
    [(path, body)] = site.posted
    assert path == "/wm?csrf=abc"
    assert parse_qs(body.decode()) == {"source": ["http://a.example/post"], "target": [site.url("/target")]}


def test_send_webmention_reports_a_refusal_and_a_missing_endpoint(site):
    site.page("/target", b'<link rel="webmention" href="/wm">')
    site.page("/wm", b"Bad source", status=400, content_type="text/plain")
    with pytest.raises(CommandError, match="refused: 400 Bad source"):
        call_command("send_webmention", "http://a.example/post", site.url("/target"))
    site.page("/plain", b"<p>no endpoint</p>")
    with pytest.raises(CommandError, match="advertises no Webmention endpoint"):
        call_command("send_webmention", "http://a.example/post", site.url("/plain"))


def test_sending_obeys_the_fetch_rules(settings):
    settings.ARCHIVE_FETCH_ALLOW_PRIVATE = False
    with pytest.raises(CommandError, match="not a public address"):
        call_command("send_pingback", "http://a.example/post", "http://127.0.0.1:9/")


def manage(server: Server, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, capture_output=True, text=True,
                          env={**server.server_env(), "ARCHIVE_FETCH_ALLOW_PRIVATE": "1"}, timeout=120,
                          check=False)  # fmt: skip


@pytest.mark.server
def test_both_commands_against_the_production_server():
    with Server(workers=1) as server, SourceSite() as site:
        _, slug = server.first_post()
        target = f"{server.url}/{slug}/"
        source = site.page("/post", html_linking_to(target))
        sent = manage(server, "send_webmention", source, target)
        assert sent.returncode == 0, sent.stderr
        assert f"endpoint: {server.url}/webmention/" in sent.stdout and "202 Accepted" in sent.stdout
        sent = manage(server, "send_pingback", source, target)
        assert sent.returncode == 0, sent.stderr
        assert f"endpoint: {server.url}/xmlrpc.php" in sent.stdout and "accepted" in sent.stdout
        refused = manage(server, "send_pingback", target, target)
        assert refused.returncode == 1 and "refused: fault 0" in refused.stderr
