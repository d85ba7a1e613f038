"""Which URLs may be pinged: those of our own posts, on our own host. Decided without fetching anything,
so both receivers can refuse a bad target at once (Webmention §3.2.1, Pingback faults 32 and 33)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.urls import Resolver404, resolve

from ..models import Post

POST_VIEWS = {"archive:post", "archive:post-comments"}
URL_MAX = 2000


class TargetError(ValueError):
    """`unknown` is true when the URL is ours and shaped like a post's, but no such post exists."""

    def __init__(self, message: str, unknown: bool = False):
        super().__init__(message)
        self.unknown = unknown


def is_web_url(url: str) -> bool:
    """An absolute http(s) URL with a host, of a length we store, with no spaces or control characters."""
    if not url or len(url) > URL_MAX or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def same_resource(a: str, b: str) -> bool:
    """Equal once the fragment is set aside (the spec's rule for targets)."""
    return urlsplit(a)._replace(fragment="").geturl() == urlsplit(b)._replace(fragment="").geturl()


def find_post(target: str, our_host: str) -> Post:
    """The post `target` names (either scheme, the fragment ignored), or TargetError."""
    if not is_web_url(target):
        raise TargetError("The target must be an absolute http or https URL.")
    parts = urlsplit(target)
    if parts.netloc.lower() != our_host.lower():
        raise TargetError(f"The target is not on this site ({our_host}).")
    try:
        match = resolve(parts.path)
    except Resolver404:
        raise TargetError("The target is not a post of this site.") from None
    if match.view_name not in POST_VIEWS:
        raise TargetError("The target is not a post of this site.")
    post = Post.objects.without_original().get_or_none(slug=match.kwargs["slug"])
    if post is None:
        raise TargetError("There is no post at the target URL.", unknown=True)
    return post
