"""Avatars made by this site, so a thread reads like WordPress's without asking Gravatar (which would learn
every reader's visit and every commenter's email hash).

A commenter's avatar is named by a keyed digest of their email (HMAC-SHA-256 under SECRET_KEY): the same
address always gives the same picture, yet nobody without the key can test an address against it, and the
raw email's plain hash is never on a page. The picture is a 5×5 pattern mirrored left to right (GitHub's
identicon shape) in one colour drawn from the digest: an SVG of a few rects, made from the digest alone, so
serving it reads no database and it never changes (cached as immutable).

Gravatar, for operators who want it (ARCHIVE_AVATARS=gravatar), only through this site: the page names
/avatars/gravatar/<signed hash>, and this site fetches the picture (pings/fetch.py, the one outgoing client),
keeps it in the cache for a day and serves it, so readers' browsers never contact Gravatar (CSP img-src
'self' holds) and Gravatar sees this server, not each visit. The Gravatar hash (MD5 of the address) is then
on the page, as on every WordPress site with Gravatar on; signed, so this proxy fetches only the hashes
its own pages named. A commenter with no Gravatar, or a Gravatar that does not answer, gets the generated
picture instead.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.utils.crypto import salted_hmac

from .pings import fetch

DIGEST = re.compile(r"[0-9a-f]{32}")
SIZE = 48  # px: WordPress's default in comment lists is 32–48


def digest(email: str, name: str = "") -> str:
    """32 hex digits naming the avatar of this email (or, without one, of this name)."""
    key = email.strip().lower() or f"name:{name.strip()}"
    return salted_hmac("archive.avatars", key, algorithm="sha256").hexdigest()[:32]


def identicon_svg(hex_digest: str) -> str:
    """The picture for a digest: 15 bits for the left three columns (mirrored), 12 more for the hue."""
    bits = int(hex_digest, 16)
    hue = (bits >> 100) % 360
    cells = []
    for row in range(5):
        for column in range(3):
            if bits >> (row * 3 + column) & 1:
                for x in {column, 4 - column}:
                    cells.append(f'<rect x="{x}" y="{row}" width="1" height="1"/>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="-0.5 -0.5 6 6" width="{SIZE}" height="{SIZE}"'
        ' shape-rendering="crispEdges"><rect x="-0.5" y="-0.5" width="6" height="6" fill="#f0f0f0"/>'
        f'<g fill="hsl({hue},55%,45%)">{"".join(cells)}</g></svg>'
    )


GRAVATAR_SIGNER = signing.Signer(salt="archive.avatars.gravatar")
GRAVATAR_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
GRAVATAR_SECONDS = 86400  # kept a day, here and in browsers, as Gravatar's own answers are
GRAVATAR_MAX_BYTES = 256 * 1024


@dataclass
class Picture:
    body: bytes
    content_type: str


def gravatar_token(email: str) -> str:
    """The signed Gravatar hash of an address, for the proxy's URL."""
    address = email.strip().lower().encode()
    return GRAVATAR_SIGNER.sign(hashlib.md5(address, usedforsecurity=False).hexdigest())  # Gravatar's name for it


def gravatar_picture(token: str) -> Picture | None:
    """The Gravatar named by a token this site signed (None if it did not sign it): from the cache, else
    fetched once. No Gravatar, or no answer, gives the generated picture of the hash, also kept a day."""
    try:
        gravatar_hash = GRAVATAR_SIGNER.unsign(token)
    except signing.BadSignature:
        return None
    key = f"archive:gravatar:{gravatar_hash}"
    picture = cache.get(key)
    if picture is None:
        picture = fetch_gravatar(gravatar_hash) or Picture(identicon_svg(gravatar_hash).encode(), "image/svg+xml")
        cache.set(key, picture, GRAVATAR_SECONDS)
    return picture


def fetch_gravatar(gravatar_hash: str) -> Picture | None:
    url = f"{settings.ARCHIVE_GRAVATAR_URL}{gravatar_hash}?s={SIZE * 2}&d=404"  # d=404: none, say so
    try:
        answer = fetch.fetch(url, accept="image/*", deadline=3, max_bytes=GRAVATAR_MAX_BYTES)
    except fetch.FetchError:
        return None
    if answer.status != 200 or answer.truncated or answer.content_type not in GRAVATAR_TYPES:
        return None
    return Picture(answer.body, answer.content_type)
