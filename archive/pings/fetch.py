"""The one outgoing HTTP client. Verifying a Pingback or a Webmention means fetching a URL that a stranger
chose, so every fetch obeys the same rules here:

- http and https only; at most MAX_REDIRECTS redirects, each one checked like the first URL.
- The host name is resolved once and the connection made to that very address (the Host header and the
  TLS name stay the name), so a name cannot answer "public" to the check and "127.0.0.1" to the connect
  (DNS rebinding).
- Only globally routable unicast addresses are fetched: private, loopback, link-local, shared, multicast,
  reserved and documentation ranges are refused, in IPv4 and IPv6 alike, and an IPv6 address carrying an
  IPv4 one (mapped ::ffff:a.b.c.d, 6to4, NAT64, Teredo) is judged by the IPv4 address inside. The check is
  made on what the resolver returned, so 2130706433, 0x7f.1 and 0177.0.0.1 are 127.0.0.1 here too. Ports
  are WordPress's: 80, 443 and 8080 (and 8443). ARCHIVE_FETCH_ALLOW_PRIVATE=1 lifts the address and port
  rule, for tests and archives on an intranet; ARCHIVE_FETCH_ALLOW_NETWORKS (CIDRs) lifts it for those
  networks only.
- One deadline for the whole fetch, redirects included (ARCHIVE_FETCH_DEADLINE_SECONDS, ≤ 10): a watchdog
  shuts the socket when it passes, so a source trickling one byte at a time cannot hold a worker longer.
- At most ARCHIVE_FETCH_MAX_BYTES of body are read (the rest is not: the spec's "first 1 MB"); no
  compression is asked for, so no gzip bomb; our own User-Agent.

Errors: `FetchRefused` (the rules said no: never worth retrying) and `FetchFailed` (the network did: DNS,
refused, reset, timed out, TLS; worth retrying later). Any HTTP status is an answer, not an error.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from email.message import Message
from urllib.parse import urljoin, urlsplit

from django.conf import settings

MAX_REDIRECTS = 5
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
SAFE_PORTS = {80, 443, 8080, 8443}
READ_CHUNK = 64 * 1024
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchError(Exception):
    """The fetch gave no answer; the message says why, for the task log and the admin."""


class FetchRefused(FetchError):
    """The URL, an address it resolves to, or a redirect breaks a rule: retrying cannot help."""


class FetchFailed(FetchError):
    """The network failed (name unknown, connection refused or reset, deadline, TLS): may work later."""


@dataclass
class Fetched:
    url: str  # the final URL, after redirects
    status: int
    headers: Message
    body: bytes
    truncated: bool = False
    redirects: list[str] = field(default_factory=list)

    @property
    def content_type(self) -> str:
        return self.headers.get_content_type()

    @property
    def charset(self) -> str:
        return self.headers.get_content_charset() or "utf-8"


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries, by any of the standard embeddings."""
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if address in ipaddress.IPv6Network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: Address) -> bool:
    """True only for a globally routable unicast address (and, for IPv6, one carrying no other kind)."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None and not is_public(inner):
            return False
    return address.is_global and not (address.is_multicast or address.is_reserved)


def exempt(address: Address) -> bool:
    """Whether the operator lifted the address and port rule for this address."""
    if settings.ARCHIVE_FETCH_ALLOW_PRIVATE:
        return True
    return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in settings.ARCHIVE_FETCH_ALLOW_NETWORKS)


def check_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of a URL we may fetch, or FetchRefused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise FetchRefused(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise FetchRefused(f"only http and https URLs are fetched, not {parts.scheme or 'a relative URL'!r}")
    if not parts.hostname:
        raise FetchRefused("the URL names no host")
    if parts.username is not None or parts.password is not None:
        raise FetchRefused("URLs with a user name or password are not fetched")
    port = port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port, path


def resolve(host: str, port: int) -> Address:
    """The first address the name resolves to, once; FetchRefused if any address it has is not public,
    or the port is not a web port (a name with a private address among public ones is aiming at us)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchFailed(f"the name {host!r} does not resolve: {exc}") from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    for address in addresses:
        if exempt(address):
            continue
        if not is_public(address):
            raise FetchRefused(f"{host} resolves to {address}, which is not a public address")
        if port not in SAFE_PORTS:
            raise FetchRefused(f"port {port} is not fetched (only {', '.join(map(str, sorted(SAFE_PORTS)))})")
    return addresses[0]


class Deadline:
    """Seconds left of the fetch; a watchdog shuts the current socket when none are."""

    def __init__(self, seconds: float):
        self.ends = time.monotonic() + seconds
        self.timer: threading.Timer | None = None

    def left(self) -> float:
        left = self.ends - time.monotonic()
        if left <= 0:
            raise FetchFailed("the deadline passed")
        return left

    def guard(self, sock: socket.socket) -> None:
        self.cancel()
        self.timer = threading.Timer(self.left(), _shut, args=(sock,))
        self.timer.daemon = True
        self.timer.start()

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed: the fetch finished just in time
        sock.shutdown(socket.SHUT_RDWR)


def connect(
    scheme: str, host: str, port: int, address: Address, deadline: Deadline
) -> tuple[http.client.HTTPConnection, socket.socket]:
    """A connection to `address` that speaks to `host` (Host header, TLS name and certificate check), and
    its socket (which http.client lets go of once it has an answer to a `Connection: close` request)."""
    sock = socket.create_connection((str(address), port), timeout=deadline.left())
    deadline.guard(sock)
    if scheme == "https":
        sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(host, port, timeout=deadline.left())
    else:
        conn = http.client.HTTPConnection(host, port, timeout=deadline.left())
    conn.sock = sock
    return conn, sock


def user_agent() -> str:
    return f"wp-archive/1.0 (+{settings.ARCHIVE_SITE_NAME}; verifying a Pingback or Webmention)"


def fetch_once(url: str, deadline: Deadline, method: str, accept: str, max_bytes: int,
               data: bytes | None = None, content_type: str = "") -> Fetched:  # fmt: skip
    scheme, host, port, path = check_url(url)
    address = resolve(host, port)
    conn = None
    try:
        conn, sock = connect(scheme, host, port, address, deadline)
        host_header = host if port in (80, 443) else f"{host}:{port}"
        if ":" in host and port in (80, 443):
            host_header = f"[{host}]"
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in (("Host", host_header), ("User-Agent", user_agent()), ("Accept", accept),
                            ("Accept-Encoding", "identity"), ("Connection", "close")):  # fmt: skip
            conn.putheader(name, value)
        if data is not None:
            conn.putheader("Content-Type", content_type)
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        reply = conn.getresponse()
        body = b""
        if method != "HEAD":
            while len(body) <= max_bytes and not reply.isclosed():  # closed: the whole body was read
                sock.settimeout(deadline.left())
                chunk = reply.read(min(READ_CHUNK, max_bytes + 1 - len(body)))
                if not chunk:
                    break
                body += chunk
        truncated = len(body) > max_bytes
        return Fetched(url, reply.status, reply.headers, body[:max_bytes], truncated)
    except FetchError:
        raise
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if time.monotonic() >= deadline.ends:
            raise FetchFailed(f"{url}: no complete answer within the deadline") from None
        raise FetchFailed(f"{url}: {exc.__class__.__name__}: {exc}") from None
    finally:
        deadline.cancel()
        if conn is not None:
            conn.close()


def fetch(url: str, *, method: str = "GET", accept: str = "text/html, text/plain;q=0.9, */*;q=0.1",
          deadline: float | None = None, max_bytes: int | None = None, data: bytes | None = None,
          content_type: str = "application/x-www-form-urlencoded") -> Fetched:  # fmt: skip
    """GET, HEAD or (with `data`) POST `url` under the rules above, following redirects (a POST becomes a
    GET after 301, 302 and 303, as browsers do); the last answer is returned."""
    seconds = min(10.0, deadline if deadline is not None else settings.ARCHIVE_FETCH_DEADLINE_SECONDS)
    limit = min(1024 * 1024, max_bytes if max_bytes is not None else settings.ARCHIVE_FETCH_MAX_BYTES)
    clock = Deadline(seconds)
    seen: list[str] = []
    while True:
        if data is not None:
            method = "POST"
        answer = fetch_once(url, clock, method, accept, limit, data, content_type)
        location = answer.headers.get("Location")
        if answer.status not in REDIRECT_STATUSES or not location:
            answer.redirects = seen
            return answer
        if len(seen) >= MAX_REDIRECTS:
            raise FetchRefused(f"more than {MAX_REDIRECTS} redirects")
        seen.append(url)
        url = urljoin(url, location.strip())
        if answer.status in (301, 302, 303) and method == "POST":
            method, data = "GET", None
