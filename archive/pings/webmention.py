"""W3C Webmention (Recommendation, 12 January 2017), receiving side: the synchronous checks of §3.2.1.
What passes is queued and answered 202 Accepted; verification (§3.2.2: fetch, link check, update or
delete) happens later in `verification`, run by the task queue.

Refused at once, with 400 and one line saying why: a missing source or target, either not an absolute
http(s) URL, the same URL twice (the fragment set aside), a target that is not a post of this site, and a
post whose pings are closed.
"""

from __future__ import annotations

from .. import policy
from ..models import Post
from . import targets


class WebmentionError(ValueError):
    """A sender's mistake: answered 400 with this message."""


def check(source: str, target: str, our_host: str) -> Post:
    """The post a valid Webmention request names, or WebmentionError."""
    if not source or not target:
        raise WebmentionError("A Webmention needs both a source and a target (form-encoded).")
    if not targets.is_web_url(source):
        raise WebmentionError("The source must be an absolute http or https URL.")
    if targets.same_resource(source, target):
        raise WebmentionError("The source and the target are the same URL.")
    try:
        post = targets.find_post(target, our_host)
    except targets.TargetError as exc:
        raise WebmentionError(str(exc)) from None
    if not post.pings_open:
        raise WebmentionError(policy.PINGS_CLOSED_MESSAGE)
    return post
