"""Tokenless protection against cross-site form posts, for the reply form that every cached page carries.

A CSRF token would make each reader's page different, so no proxy, CDN or shared cache could keep one copy.
Browsers now say where a request comes from, so the origin can be checked instead, as Go 1.25's
`net/http.CrossOriginProtection` does (and ASP.NET Core and Hono; proposed for Django as
django/new-features#98):

1. An Origin listed in CSRF_TRUSTED_ORIGINS is allowed.
2. `Sec-Fetch-Site` (every current browser sends it): `same-origin` or `none` (typed, bookmarked) is
   allowed; `same-site`, `cross-site` or anything else is refused.
3. Without it, `Origin` (browsers send it on every cross-origin POST): allowed when its host:port is the
   request's Host; `null` (sandboxed frames, privacy-stripped redirects) and any other origin are refused.
4. With neither header the request comes from no browser (curl, a script), so it has no victim's cookies to
   ride: allowed.

WordPress's own anonymous comment form has no protection at all; this is stricter, and cookies of ours are
SameSite=Lax besides. The admin keeps Django's token check; ping endpoints are cross-site by nature.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest

ALLOWED_FETCH_SITES = frozenset({"same-origin", "none"})


def refusal(request: HttpRequest) -> str | None:
    """Why this unsafe request must be refused as cross-origin, or None when it may go on."""
    origin = request.META.get("HTTP_ORIGIN")
    if origin is not None and origin in settings.CSRF_TRUSTED_ORIGINS:
        return None
    fetch_site = request.META.get("HTTP_SEC_FETCH_SITE")
    if fetch_site is not None:
        return None if fetch_site in ALLOWED_FETCH_SITES else f"Sec-Fetch-Site is {fetch_site!r}"
    if origin is None:
        return None
    if origin == "null":
        return "the Origin is null"
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:
        netloc = ""
    if netloc and netloc.lower() == request.get_host().lower():
        return None
    return f"the Origin {origin!r} is not this site"
