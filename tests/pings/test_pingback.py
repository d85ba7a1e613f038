"""The Pingback 1.0 XML-RPC server at /xmlrpc.php, and verification by the worker command. Table numbers
P1–P9 are those of ../shared/reference/protocols.md §2.3."""

from __future__ import annotations

import xmlrpc.client

import pytest
from django_tasks_db.models import DBTaskResult

from archive.models import Comment
from tests.ping_helpers import html_linking_to

XML = "text/xml"


def call(client, method: str, *params, body: bytes | None = None):
    """POST one XML-RPC call; returns (HTTP response, value or xmlrpc.client.Fault)."""
    data = body if body is not None else xmlrpc.client.dumps(params, method).encode()
    response = client.generic("POST", "/xmlrpc.php", data, content_type=XML)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/xml; charset=UTF-8"
    assert response.content.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    try:
        (value,), _ = xmlrpc.client.loads(response.content)
    except xmlrpc.client.Fault as fault:
        return response, fault
    return response, value


def fault_code(client, method: str, *params, body: bytes | None = None) -> int:
    _, value = call(client, method, *params, body=body)
    assert isinstance(value, xmlrpc.client.Fault), value
    return value.faultCode


def pingbacks(post):
    return list(Comment.objects.filter(post=post, kind=Comment.Kind.PINGBACK))


def test_p1_discovery_header_and_link_absolute(client, post):
    for method in (client.get, client.head):
        assert method(post.get_absolute_url())["X-Pingback"] == "http://testserver/xmlrpc.php"
    html = client.get(post.get_absolute_url()).content.decode()
    head = html[: html.index("</head>")]
    assert '<link rel="pingback" href="http://testserver/xmlrpc.php">' in head
    assert html.index('rel="pingback"') < 5000


def test_p2_valid_ping_appears_after_verification_as_wordpress_shows_it(client, post, site, target, run_tasks):
    long_text = "Before the link there is a long sentence. " * 10
    source = site.page("/post", html_linking_to(target, title="A <b>blog</b> post", text=long_text))
    _, value = call(client, "pingback.ping", source, target)
    assert isinstance(value, str) and source in value
    assert pingbacks(post) == []
    run_tasks()
    [ping] = pingbacks(post)
    assert (ping.status, ping.source_url, ping.author_url) == ("approved", source, source)
    assert ping.title == "A <b>blog</b> post"  # the <title> text, stored as text
    assert ping.content.startswith("[…] ") and ping.content.endswith(" […]")
    assert "this article and liked it." in ping.content and len(ping.content) < 320
    html = client.get(post.get_absolute_url()).content.decode()
    assert "Pingback:" in html and "A &lt;b&gt;blog&lt;/b&gt; post" in html
    _, sources = call(client, "pingback.extensions.getPingbacks", target)
    assert sources == [source]


def test_p3_the_same_ping_again_is_fault_48(client, post, site, target, run_tasks):
    source = site.page("/post", html_linking_to(target))
    call(client, "pingback.ping", source, target)
    run_tasks()
    assert fault_code(client, "pingback.ping", source, target) == 48


def test_p4_source_without_the_link_never_appears(client, post, site, target, run_tasks):
    source = site.page("/post", html_linking_to("http://testserver/other/"))
    call(client, "pingback.ping", source, target)
    run_tasks()
    assert pingbacks(post) == []


def test_p5_missing_source_is_not_stored(client, post, site, target, run_tasks):
    call(client, "pingback.ping", site.url("/nothing-here"), target)
    run_tasks()
    assert pingbacks(post) == []
    assert DBTaskResult.objects.get().return_value == "not stored: the source answered 404"


@pytest.mark.parametrize(
    "target_url, code",
    [("http://other.example/slug/", 33), ("http://testserver/admin/", 33), ("http://testserver/no-such/", 32),
     ("not a url", 33), ("http://testserver/", 33)],
)  # fmt: skip
def test_p6_targets_that_are_not_our_posts(client, db, target_url, code):
    assert fault_code(client, "pingback.ping", "http://a.example/x", target_url) == code
    assert DBTaskResult.objects.count() == 0


def test_p7_source_equal_to_target_is_fault_0(client, target):
    assert fault_code(client, "pingback.ping", target, target) == 0


@pytest.mark.parametrize("source", ["file:///etc/passwd", "gopher://x/", "javascript:alert(1)", ""])
def test_bad_sources_are_fault_0(client, target, source):
    assert fault_code(client, "pingback.ping", source, target) == 0


def test_closed_pings_are_fault_49(client, post, target):
    post.pings_open = False
    post.save()
    assert fault_code(client, "pingback.ping", "http://a.example/x", target) == 49


def test_p8_get_is_405(client):
    response = client.get("/xmlrpc.php")
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert response.content == b"XML-RPC server accepts POST requests only.\n"


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<methodCall><methodName>pingback.ping</methodName><params><param><value><string>&lol3;</string></value>
</param></params></methodCall>"""
EXTERNAL = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<methodCall><methodName>&e;</methodName></methodCall>"""


@pytest.mark.parametrize(
    "body, code",
    [(b"", -32700), (b"not xml", -32700), (b"<methodCall><methodName>x", -32700), (BOMB, -32700),
     (EXTERNAL, -32700), (b"<methodCall><params/></methodCall>", -32600),
     (b"<methodResponse><params/></methodResponse>", -32600),
     (b"<methodCall><methodName>pingback.ping</methodName><params><param><value><int>x</int></value>"
      b"</param></params></methodCall>", -32700),
     (b"\xff\xfe<", -32700)],
)  # fmt: skip
def test_p9_malformed_calls_and_xml_bombs_are_faults(client, body, code):
    assert fault_code(client, "", body=body) == code


def test_p9_wrong_method_and_parameters(client, target):
    assert fault_code(client, "wp.getUsers") == -32601
    assert fault_code(client, "pingback.ping", "http://a.example/x") == -32602
    assert fault_code(client, "pingback.ping", 1, 2) == -32602
    assert fault_code(client, "pingback.extensions.getPingbacks") == -32602


def test_oversized_calls_are_refused(client, settings, target):
    settings.ARCHIVE_MAX_XMLRPC_BYTES = 1000
    assert fault_code(client, "pingback.ping", "http://a.example/" + "x" * 2000, target) == -32600


def test_list_methods(client):
    _, methods = call(client, "system.listMethods")
    assert set(methods) >= {"pingback.ping", "pingback.extensions.getPingbacks", "system.listMethods"}


def test_no_csrf_token_needed(target):
    from django.test import Client

    assert fault_code(Client(enforce_csrf_checks=True), "pingback.ping", target, target) == 0


def test_per_sender_rate_limit_is_fault_49(client, target, settings):
    settings.ARCHIVE_PINGS_PER_SENDER = 1
    call(client, "pingback.ping", "http://a.example/1", target)
    assert fault_code(client, "pingback.ping", "http://a.example/2", target) == 49


def test_a_source_that_is_not_text_never_links(client, post, site, target, run_tasks):
    source = site.page("/image", b"\x89PNG\r\n" + target.encode(), content_type="image/png")
    call(client, "pingback.ping", source, target)
    run_tasks()
    assert pingbacks(post) == []


def test_huge_link_text_is_cut_as_wordpress_cuts_it(client, post, site, target, run_tasks):
    entry = f'<p>Look: <a href="{target}">{"word " * 2000}</a> there.</p>'
    source = site.page("/long", html_linking_to(target, entry=entry))
    call(client, "pingback.ping", source, target)
    run_tasks()
    [ping] = pingbacks(post)
    assert len(ping.content) < 320 and "word word" in ping.content and "…" in ping.content


def test_script_in_the_title_is_stored_and_shown_as_text(client, post, site, target, run_tasks):
    source = site.page("/xss", html_linking_to(target, title="<script>alert(1)</script>Hi"))
    call(client, "pingback.ping", source, target)
    run_tasks()
    html = client.get(post.get_absolute_url()).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;Hi" in html and "<script>alert(1)" not in html


def test_plain_text_source_links_by_containing_the_url(client, post, site, target, run_tasks):
    source = site.page("/note.txt", f"See {target} for more.".encode(), content_type="text/plain")
    call(client, "pingback.ping", source, target)
    run_tasks()
    assert [p.source_url for p in pingbacks(post)] == [source]


def test_a_webmention_from_a_pinged_source_updates_the_pingback_as_a_pingback(client, post, site, target, run_tasks):
    source = site.page("/both", html_linking_to(target, title="Both ways", text="Pinged"))
    call(client, "pingback.ping", source, target)
    run_tasks()
    later = f'<p>Mentioned <a href="{target}">here</a>.</p>'
    site.page("/both", html_linking_to(target, title="Both ways", entry=later))
    client.post("/webmention/", {"source": source, "target": target})
    run_tasks()
    [ping] = pingbacks(post)
    assert (ping.kind, ping.author, ping.mention_type) == ("pingback", "Both ways", "")
    assert ping.content == "[…] Mentioned here. […]"  # no space left before the period


@pytest.fixture
def verify_now(settings):
    settings.ARCHIVE_PINGBACK_VERIFY_NOW = True


def test_verify_now_registers_during_the_call(client, post, site, target, verify_now):
    source = site.page("/post", html_linking_to(target))
    _, value = call(client, "pingback.ping", source, target)
    assert value.endswith("registered. Keep the web talking! :-)")
    assert [p.source_url for p in pingbacks(post)] == [source]
    assert DBTaskResult.objects.count() == 0


def test_verify_now_source_without_the_link_is_fault_17(client, post, site, target, verify_now):
    source = site.page("/post", html_linking_to("http://testserver/other/"))
    assert fault_code(client, "pingback.ping", source, target) == 17
    assert pingbacks(post) == []


@pytest.mark.parametrize("status", [404, 410])
def test_verify_now_missing_source_is_fault_16(client, post, site, target, verify_now, status):
    source = site.page("/missing", b"no", status=status)
    assert fault_code(client, "pingback.ping", source, target) == 16


def test_verify_now_falls_back_to_the_queue_when_the_source_fails(client, post, site, target, verify_now,
                                                                   run_tasks):  # fmt: skip
    source = site.page("/down", b"busy", status=503)
    _, value = call(client, "pingback.ping", source, target)
    assert "verified later" in value and DBTaskResult.objects.count() == 1
