"""The reader's address. Every limit keyed on the client (reply flood, pings, the admin login) and every
stored IP asks here, never the X-Forwarded-For header itself.

Behind nginx or a load balancer REMOTE_ADDR is the proxy's address, so the reader's own is taken from
X-Forwarded-For, but only when the connection comes from a proxy the operator trusts
(ARCHIVE_TRUSTED_PROXIES, CIDRs; default none). The header is read from the right: each proxy appends the
address it saw, so the right-most address that is not itself a trusted proxy is the first one that no
trusted party vouches for beyond. Anything to its left may have been written by the client. A header from
anyone else is ignored.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def _parse(value: str) -> Address | None:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    # ::ffff:10.0.0.1 is the IPv4 address written the IPv6 way: judge (and store) it as IPv4.
    return getattr(address, "ipv4_mapped", None) or address


def _trusted(address: Address) -> bool:
    return any(address in network for network in _networks(tuple(settings.ARCHIVE_TRUSTED_PROXIES)))


def client_address(remote_addr: str, forwarded_for: str = "") -> str | None:
    """The client's address from the connection's peer and the X-Forwarded-For header it sent, or None
    when the peer is no IP address (a server on a Unix socket may pass "" or a path, which PostgreSQL's
    inet column would refuse)."""
    peer = _parse(remote_addr or "")
    if peer is None:
        return None
    address = peer
    if forwarded_for and _trusted(peer):
        for hop in reversed(forwarded_for.split(",")):
            parsed = _parse(hop)
            if parsed is None:  # a garbled entry: nothing to its left can be vouched for
                break
            address = parsed
            if not _trusted(parsed):
                break
    return str(address)


def client_ip(request: HttpRequest) -> str | None:
    return client_address(request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR", ""))
