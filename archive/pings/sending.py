"""Sending a Webmention or a Pingback, as `send_webmention` and `send_pingback` do: discover the target's
endpoint (archive.pings.discovery), then POST to it, every request through `fetch` and its rules.

Webmention (§3.1): GET the target (following redirects), take the endpoint from the first Link header
with rel=webmention, else the first <link> or <a> with it; relative endpoints are resolved against the
target, and the endpoint's own query string is kept. Any 2xx answer is a success.
Pingback (§2): HEAD the target for X-Pingback first, as WordPress does, then GET it for the header or
the <link rel="pingback">; then call pingback.ping(source, target) there.
"""

from __future__ import annotations

import xmlrpc.client
from dataclasses import dataclass
from urllib.parse import urlencode

from . import discovery, fetch, pingback


class SendError(Exception):
    """No endpoint, a transport failure, or an answer that is not the protocol's."""


@dataclass(frozen=True)
class Sent:
    endpoint: str
    ok: bool
    message: str  # the status line and body (Webmention), or the string or fault (Pingback)


def get(url: str, method: str = "GET") -> fetch.Fetched:
    try:
        return fetch.fetch(url, method=method)
    except fetch.FetchError as exc:
        raise SendError(f"could not fetch {url}: {exc}") from None


def post(endpoint: str, body: bytes, content_type: str) -> fetch.Fetched:
    try:
        return fetch.fetch(endpoint, data=body, content_type=content_type, accept="*/*")
    except fetch.FetchError as exc:
        raise SendError(f"could not reach {endpoint}: {exc}") from None


def send_webmention(source: str, target: str) -> Sent:
    endpoint = discovery.webmention_endpoint(get(target))
    if not endpoint:
        raise SendError(f"{target} advertises no Webmention endpoint")
    answer = post(endpoint, urlencode({"source": source, "target": target}).encode(),
                  "application/x-www-form-urlencoded")  # fmt: skip
    text = answer.body.decode(answer.charset, "replace").strip()
    return Sent(endpoint, 200 <= answer.status < 300, f"{answer.status} {text}".strip())


def send_pingback(source: str, target: str) -> Sent:
    server = discovery.pingback_server(get(target, "HEAD")) or discovery.pingback_server(get(target))
    if not server:
        raise SendError(f"{target} advertises no Pingback server")
    call = xmlrpc.client.dumps((source, target), "pingback.ping", encoding="UTF-8").encode()
    answer = post(server, call, "text/xml; charset=UTF-8")
    try:
        value = pingback.read_answer(answer.body)
    except xmlrpc.client.Fault as fault:
        return Sent(server, False, f"fault {fault.faultCode}: {fault.faultString}")
    except pingback.Fault as fault:
        raise SendError(f"the answer ({answer.status}) is not XML-RPC: {fault.message}") from None
    return Sent(server, True, str(value))
