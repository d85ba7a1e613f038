"""Avatars made by this site, so a thread reads like WordPress's without asking Gravatar (which would learn
every reader's visit and every commenter's email hash).

A commenter's avatar is named by a keyed digest of their email (HMAC-SHA-256 under SECRET_KEY): the same
address always gives the same picture, yet nobody without the key can test an address against it, and the
raw email's plain hash is never on a page. The picture is a 5×5 pattern mirrored left to right (GitHub's
identicon shape) in one colour drawn from the digest: an SVG of a few rects, made from the digest alone, so
serving it reads no database and it never changes (cached as immutable).
"""

from __future__ import annotations

import re

from django.utils.crypto import salted_hmac

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
