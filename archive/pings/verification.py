"""Verifying a mention later, in a task: fetch the source (through `fetch`, one fetch per source host at a
time), read it (`sources`), and store, update or remove the response (through `policy`).

Both protocols end here. A Pingback or Webmention whose source links to the target is stored through
`policy.accept` like any reply or TrackBack (closed, duplicate, flood, blocklist, moderation). A source
that is sent again is read again (Webmention §3.2.2): if it still links, the stored mention is updated;
if it answers 410 Gone or no longer links, the mention leaves public view (to the trash, where the
moderator can still see it). Network failures and 5xx/429 answers raise `TryLater`, for the task to
retry with backoff; a host already being fetched raises `HostBusy`, for the task to come back later.

A task first waits up to HOST_WAIT_SECONDS for such a fetch to end: most take milliseconds, and with two
workers on mentions from one host, a task sent back for the whole fetch deadline at every collision made
two workers verify several times slower than one.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import policy
from ..models import Comment, Post, SourceHostLease
from . import fetch, sources

COMMENT_FRAGMENT = re.compile(r"comment-([0-9]{1,18})")
PING_KINDS = (Comment.Kind.PINGBACK, Comment.Kind.WEBMENTION)
ACCEPT = "text/html, application/xhtml+xml;q=0.9, text/plain;q=0.8, application/json;q=0.5"


NO_TARGET, NO_SOURCE, NO_LINK, REJECTED = "no-target", "no-source", "no-link", "rejected"


@dataclass(frozen=True)
class Outcome:
    """What verifying did: `stored` true when the mention is now stored (new or updated); otherwise
    `reason` says why not, and `status` is the policy's HTTP status for a rejection (403, 409, 429)."""

    stored: bool
    reason: str
    message: str
    status: int = 0

    def __str__(self) -> str:
        return self.message


class TryLater(Exception):
    """The source could not be read this time (network, 5xx, 429): worth another attempt."""


class HostBusy(Exception):
    """Another fetch of ours from the same host is under way."""


@dataclass(frozen=True)
class Mention:
    """What a receiver queued: everything the task needs, JSON-serialisable for the task table."""

    kind: str
    source: str
    target: str
    post_id: int
    sender_ip: str | None = None
    user_agent: str = ""


def lease(host: str) -> bool:
    """Take the host's lease for one fetch; False if another worker holds it. A lease left by a killed
    worker lapses after the fetch deadline."""
    now = timezone.now()
    SourceHostLease.objects.filter(host=host, expires_at__lt=now).delete()
    try:
        with transaction.atomic():
            SourceHostLease.objects.create(
                host=host, expires_at=now + timedelta(seconds=settings.ARCHIVE_FETCH_DEADLINE_SECONDS + 1)
            )
    except IntegrityError:
        return False
    return True


HOST_WAIT_SECONDS = 1.0
HOST_POLL_SECONDS = 0.02


def wait_for_lease(host: str, seconds: float) -> bool:
    """Take the host's lease, waiting up to `seconds` for another worker's fetch from it to end."""
    give_up = time.monotonic() + seconds
    while not lease(host):
        if time.monotonic() >= give_up:
            return False
        time.sleep(HOST_POLL_SECONDS)
    return True


def fetch_source(url: str, host_wait: float) -> fetch.Fetched:
    host = (urlsplit(url).hostname or "").lower()
    if not wait_for_lease(host, host_wait):
        raise HostBusy(host)
    try:
        return fetch.fetch(url, accept=ACCEPT)
    except fetch.FetchFailed as exc:
        raise TryLater(str(exc)) from None
    finally:
        SourceHostLease.objects.filter(host=host).delete()


def existing(mention: Mention) -> Comment | None:
    return (
        Comment.objects.filter(post_id=mention.post_id, kind__in=PING_KINDS, source_url=mention.source)
        .exclude(status=Comment.Status.TRASH)
        .first()
    )


def remove(mention: Mention, why: str, reason: str) -> Outcome:
    """Take a stored mention of this source out of public view, if there is one."""
    stored = existing(mention)
    if stored is None:
        return Outcome(False, reason, f"not stored: {why}")
    stored.status = Comment.Status.TRASH
    stored.save(update_fields=["status", "modified_at"])
    return Outcome(False, reason, f"removed #{stored.pk}: {why}")


def fits(url: str) -> str:
    """`url` if it is an http(s) URL that fits the author URL column (200, WordPress's limit), else ""."""
    return url if len(url) <= 200 and url.startswith(("http://", "https://")) else ""


def replied_to(post: Post, target: str, found: sources.Source) -> Comment | None:
    """The public response a reply answers when its target is that response's link (P#comment-N), so
    that it sits under it in the thread."""
    match = COMMENT_FRAGMENT.fullmatch(urlsplit(target).fragment)
    if found.mention_type != Comment.MentionType.REPLY or match is None:
        return None
    return Comment.objects.public().get_or_none(post=post, pk=int(match.group(1)))


def candidate(mention: Mention, post: Post, found: sources.Source) -> policy.Candidate:
    if mention.kind == Comment.Kind.PINGBACK:  # WordPress: author = the page's title, url = the page
        return policy.Candidate(
            post=post, kind=mention.kind, author=found.title[:245], url=fits(mention.source), title=found.title,
            content=found.excerpt, source_url=mention.source, ip_address=mention.sender_ip,
            user_agent=mention.user_agent,
        )  # fmt: skip
    return policy.Candidate(
        post=post, kind=mention.kind, parent=replied_to(post, mention.target, found),
        author=found.author_name, url=fits(found.author_url), title=found.title,
        content=found.content or found.excerpt, source_url=mention.source, mention_type=found.mention_type,
        published_at=found.published, ip_address=mention.sender_ip, user_agent=mention.user_agent,
    )  # fmt: skip


def update(stored: Comment, new: policy.Candidate) -> Outcome:
    """A source sent again: the stored mention takes what it says now. It keeps its moderation status,
    unless the new text trips the blocklist."""
    for field in ("author", "title", "content", "mention_type", "published_at"):
        setattr(stored, field, getattr(new, field))
    stored.author_url = new.url
    if policy.matches_blocklist(new):
        stored.status = Comment.Status.PENDING
    stored.save()
    return Outcome(True, "", f"updated #{stored.pk}")


def verify(mention: Mention, host_wait: float = 0) -> Outcome:
    """Fetch, read and store one mention; returns what happened, for the task's result. `host_wait`: how
    long to wait for another fetch from the source's host to end (none during a request)."""
    post = Post.objects.without_original().get_or_none(pk=mention.post_id)
    if post is None:
        return Outcome(False, NO_TARGET, "dropped: the post is gone")
    try:
        answer = fetch_source(mention.source, host_wait)
    except fetch.FetchRefused as exc:
        return Outcome(False, NO_SOURCE, f"refused: {exc}")
    if answer.status == 410:
        return remove(mention, "the source is gone (410)", NO_SOURCE)
    if answer.status == 429 or answer.status >= 500:
        raise TryLater(f"the source answered {answer.status}")
    if not 200 <= answer.status < 300:
        return Outcome(False, NO_SOURCE, f"not stored: the source answered {answer.status}")
    found = sources.read(answer.body, answer.content_type, answer.charset, answer.url, mention.target)
    if not found.links:
        return remove(mention, "the source does not link to the target", NO_LINK)
    stored = existing(mention)
    if stored is not None:  # a Webmention from a page that sent a Pingback updates that Pingback, as itself
        return update(stored, candidate(replace(mention, kind=stored.kind), post, found))
    new = candidate(mention, post, found)
    try:
        comment = policy.accept(new)
    except policy.Rejected as refusal:
        return Outcome(False, REJECTED, f"rejected: {refusal.message}", refusal.status)
    return Outcome(True, "", f"stored #{comment.pk} ({comment.status})")
