"""The addresses an imported blog had — its permalinks, `?p=ID`, their feeds and TrackBack URLs — answer
301 to the archive's page, so the links other sites hold still land. Asked only when nothing else answered
(a 404), or for the front page with `?p=` / `?page_id=`, so no other page pays a query for it."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.urls import reverse

from .models import Post

# What WordPress hangs below a permalink, and where it lives in the archive.
SUFFIXES = (
    (re.compile(r"feed/atom/?$"), "archive:post-comments-feed-atom"),
    (re.compile(r"feed/(?:rss2/|rss/|rdf/)?$"), "archive:post-comments-feed"),
    (re.compile(r"trackback/?$"), "archive:trackback"),
    (re.compile(r"comment-page-\d+/?$"), "archive:post"),
)
QUERY_KEYS = (("p", "/?p="), ("page_id", "/?page_id="))


def post_by_query(request: HttpRequest) -> Post | None:
    """`/?p=4` (a post) or `/?page_id=2` (a page): WordPress's links that work under any permalink setting."""
    for key, marker in QUERY_KEYS:
        value = request.GET.get(key, "")
        if value.isascii() and value.isdigit():
            return Post.objects.filter(wp_post_id=int(value), source_name__endswith=f"{marker}{int(value)}").first()
    return None


def split_suffix(path: str) -> tuple[str, str]:
    """`/2016/01/12/slug/feed/` → (`/2016/01/12/slug/`, the archive's URL name for the feed)."""
    for suffix, name in SUFFIXES:
        match = suffix.search(path)
        if match and match.start() > 1:
            return path[: match.start()], name
    return path, "archive:post"


def target(path: str) -> str | None:
    """The archive's URL for an old path, or None. Paths compare decoded, with or without the final slash."""
    base, name = split_suffix(path)
    stem = base.rstrip("/")
    post = Post.objects.filter(source_path__in=[stem, stem + "/"]).only("slug").first() if stem else None
    return reverse(name, args=[post.slug]) if post else None


class OldLinksMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/" and request.method in ("GET", "HEAD") and request.GET:
            post = post_by_query(request)
            if post is not None:
                return HttpResponsePermanentRedirect(post.get_absolute_url())
        response = self.get_response(request)
        if response.status_code != 404:
            return response
        try:
            location = target(request.path)
        except DatabaseError:  # a courtesy: with no readable archive (not migrated yet) the 404 stands
            return response
        if location is None:
            return response
        if request.method in ("GET", "HEAD"):
            return HttpResponsePermanentRedirect(location)
        if location.endswith("/trackback/"):  # an old blog's ping: 308 keeps it a POST
            return HttpResponsePermanentRedirect(location, preserve_request=True)
        return response
