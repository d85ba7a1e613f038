"""archive.pings.fetch, the one outgoing HTTP client: SSRF rules with the address rule on (the default),
and real fetches from test servers on 127.0.0.1 with the rule lifted for that address only."""

from __future__ import annotations

import time

import pytest

from archive.pings import fetch
from tests.ping_helpers import SourceSite

REFUSED = [
    "http://127.0.0.1/",
    "http://127.0.0.1:22/",
    "http://10.1.2.3/",
    "http://192.168.0.1/",
    "http://172.16.0.1/",
    "http://100.64.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://0.0.0.0/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[2002:7f00:1::]/",
    "http://[64:ff9b::a00:1]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[ff02::1]/",
    "http://2130706433/",
    "http://0x7f.1/",
    "http://0177.0.0.1/",
    "http://017700000001/",
    "http://127.1/",
    "http://localhost/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:25/",
    "ftp://127.0.0.1/",
    "http://user:pw@example.com/",
    "/relative/path",
]


@pytest.fixture(autouse=True)
def _rules(settings):
    settings.ARCHIVE_FETCH_ALLOW_PRIVATE = False
    settings.ARCHIVE_FETCH_ALLOW_NETWORKS = []
    settings.ARCHIVE_FETCH_DEADLINE_SECONDS = 10
    settings.ARCHIVE_FETCH_MAX_BYTES = 1024 * 1024


@pytest.fixture
def site(settings):
    """A test server on 127.0.0.1, with the address rule lifted for 127.0.0.1 alone."""
    settings.ARCHIVE_FETCH_ALLOW_NETWORKS = ["127.0.0.1/32"]
    with SourceSite() as running:
        yield running


@pytest.mark.parametrize("url", REFUSED)
def test_ssrf_vectors_are_refused_without_connecting(url):
    with SourceSite() as trap:  # would see a request if anything slipped through to 127.0.0.1
        with pytest.raises(fetch.FetchRefused):
            fetch.fetch(url.replace("127.0.0.1/", f"127.0.0.1:{trap.port}/") if "127.0.0.1/" in url else url)
        assert trap.requests == []


def test_a_real_test_server_is_refused_too_while_the_rule_is_on():
    with SourceSite() as trap:
        trap.page("/", b"hello")
        with pytest.raises(fetch.FetchRefused, match="not a public address"):
            fetch.fetch(trap.url("/"))
        assert trap.requests == []


def test_the_flag_lifts_the_address_rule(settings):
    settings.ARCHIVE_FETCH_ALLOW_PRIVATE = True
    with SourceSite() as site:
        site.page("/", b"<p>hi</p>")
        answer = fetch.fetch(site.url("/"))
    assert (answer.status, answer.body, answer.content_type) == (200, b"<p>hi</p>", "text/html")


def test_a_redirect_to_a_private_address_is_refused(site):
    other = SourceSite(host="127.0.0.2")
    with other:
        other.page("/secret", b"internal")
        site.page("/hop", status=302, headers={"Location": other.url("/secret").replace("127.0.0.1", "127.0.0.2")})
        with pytest.raises(fetch.FetchRefused, match=r"127\.0\.0\.2"):
            fetch.fetch(site.url("/hop"))
        assert other.requests == []


def test_a_redirect_to_another_scheme_is_refused(site):
    site.page("/hop", status=301, headers={"Location": "file:///etc/passwd"})
    with pytest.raises(fetch.FetchRefused, match="http and https"):
        fetch.fetch(site.url("/hop"))


def test_redirects_are_followed_five_times_and_no_more(site):
    for n in range(6):
        site.page(f"/r{n}", status=302, headers={"Location": f"/r{n + 1}"})
    site.page("/r6", b"end")
    with pytest.raises(fetch.FetchRefused, match="more than 5 redirects"):
        fetch.fetch(site.url("/r0"))
    answer = fetch.fetch(site.url("/r1"))  # five hops
    assert (answer.status, answer.body, answer.url) == (200, b"end", site.url("/r6"))
    assert len(answer.redirects) == 5


def test_own_user_agent_and_no_compression(site):
    site.page("/", b"x")
    fetch.fetch(site.url("/"))
    headers = site.requests[0][2]
    assert headers["User-Agent"].startswith("wp-archive/")
    assert headers["Accept-Encoding"] == "identity"
    assert headers["Host"] == f"127.0.0.1:{site.port}"


def test_body_is_capped(site, settings):
    settings.ARCHIVE_FETCH_MAX_BYTES = 1000
    site.page("/big", b"a" * 5000)
    answer = fetch.fetch(site.url("/big"))
    assert (len(answer.body), answer.truncated) == (1000, True)


def test_body_cap_is_never_above_one_megabyte(site, settings):
    settings.ARCHIVE_FETCH_MAX_BYTES = 50 * 1024 * 1024
    site.page("/big", b"a" * (1024 * 1024 + 10))
    answer = fetch.fetch(site.url("/big"))
    assert (len(answer.body), answer.truncated) == (1024 * 1024, True)


def test_a_slow_answer_hits_the_deadline(site):
    site.page("/slow", b"late", delay=5)
    started = time.monotonic()
    with pytest.raises(fetch.FetchFailed):
        fetch.fetch(site.url("/slow"), deadline=1)
    assert time.monotonic() - started < 4  # the rule: the fetch ends at its deadline, not the source's pace


def test_a_trickling_body_hits_the_total_deadline(site):
    site.page("/drip", b"x" * 100, trickle=0.1)  # each byte well inside any per-read timeout
    started = time.monotonic()
    with pytest.raises(fetch.FetchFailed):
        fetch.fetch(site.url("/drip"), deadline=1)
    assert time.monotonic() - started < 4


def test_the_deadline_is_never_above_ten_seconds(settings):
    settings.ARCHIVE_FETCH_DEADLINE_SECONDS = 600
    clock = fetch.Deadline(min(10.0, settings.ARCHIVE_FETCH_DEADLINE_SECONDS))
    assert clock.left() <= 10


def test_connection_refused_is_a_failure_to_retry(site):
    port = site.port
    site.__exit__()
    with pytest.raises(fetch.FetchFailed):
        fetch.fetch(f"http://127.0.0.1:{port}/")


def test_a_name_is_resolved_once_and_checked(settings):
    """localhost resolves to loopback: refused by name, as by number."""
    with SourceSite() as trap:
        with pytest.raises(fetch.FetchRefused, match="localhost resolves to"):
            fetch.fetch(f"http://localhost:{trap.port}/")
        assert trap.requests == []


@pytest.mark.parametrize("address", ["8.8.8.8", "2001:4860:4860::8888", "93.184.216.34"])
def test_public_addresses_pass_the_rule(address):
    import ipaddress

    assert fetch.is_public(ipaddress.ip_address(address))
