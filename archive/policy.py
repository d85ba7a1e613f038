"""The comment rules, shared by the reply form and the TrackBack endpoint: open/closed, duplicates, flood,
moderation. Plain functions over a `Candidate`; the caller turns a `Rejected` into its own answer.

The order is WordPress's: closed, duplicate (409), flood (429), then the moderation outcome. The checks and
the insert run in one transaction; on SQLite it takes the write lock at BEGIN (transaction_mode IMMEDIATE),
so two requests cannot both pass the checks, and the database's unique constraint on `dedupe_key` holds the
duplicate rule on every backend.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from . import markup
from .models import Comment, CommentEdit, Post, new_pending_token

DUPLICATE_MESSAGE = "Duplicate comment detected; it looks as though you’ve already said that!"
DUPLICATE_PING_MESSAGE = "There is already a ping from that URL for this post."
FLOOD_MESSAGE = "You are posting comments too quickly. Slow down."
COMMENTS_CLOSED_MESSAGE = "Sorry, comments are closed for this item."
PINGS_CLOSED_MESSAGE = "Sorry, trackbacks are closed for this item."
MODERATION_CHOICES = ("open", "first-time", "all")


class Rejected(Exception):
    """A rule refused the response. `status` is the HTTP status WordPress gives the same refusal."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class Candidate:
    post: Post
    kind: str = Comment.Kind.COMMENT
    parent: Comment | None = None
    author: str = ""
    email: str = ""
    url: str = ""
    content: str = ""
    title: str = ""
    blog_name: str = ""
    source_url: str = ""  # Pingback and Webmention: the verified page that links here
    mention_type: str = ""
    published_at: datetime | None = None
    ip_address: str | None = None
    user_agent: str = ""
    is_spam: bool = False  # a trap (the honeypot) already caught it

    @property
    def is_ping(self) -> bool:
        return self.kind != Comment.Kind.COMMENT

    def dedupe_key(self) -> str:
        """WordPress's duplicate rules: a reply repeats one with the same parent, author, email and text;
        a ping repeats any earlier ping of the same post from the same URL (its source page, when known).
        Emails compare without case, as the flood and first-time rules compare them (and as MySQL's
        collation does for WordPress)."""
        if self.is_ping:
            parts = ["ping", self.source_url or self.url]
        else:
            parent = str(self.parent.pk if self.parent else 0)
            parts = ["comment", parent, self.author, self.email.lower(), self.content]
        return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def check_open(candidate: Candidate) -> None:
    if candidate.is_ping and not candidate.post.pings_open:
        raise Rejected(PINGS_CLOSED_MESSAGE, 403)
    if not candidate.is_ping and not candidate.post.comments_open:
        raise Rejected(COMMENTS_CLOSED_MESSAGE, 403)


def duplicate_rejection(candidate: Candidate) -> Rejected:
    return Rejected(DUPLICATE_PING_MESSAGE if candidate.is_ping else DUPLICATE_MESSAGE, 409)


def check_duplicate(candidate: Candidate, key: str, *, edited: Comment | None = None) -> None:
    """Refuse a response that repeats one outside the trash; an `edited` response is not its own copy."""
    existing = Comment.objects.filter(post=candidate.post, dedupe_key=key).exclude(status=Comment.Status.TRASH)
    if edited is not None:
        existing = existing.exclude(pk=edited.pk)
    if existing.exists():
        raise duplicate_rejection(candidate)


def check_flood(candidate: Candidate) -> None:
    """A second response from the same IP (or, for replies, the same email) inside the window."""
    seconds = settings.ARCHIVE_COMMENT_FLOOD_SECONDS
    if seconds <= 0:
        return
    same_sender = Q(ip_address=candidate.ip_address) if candidate.ip_address else Q()
    if candidate.email:
        same_sender |= Q(author_email__iexact=candidate.email)
    if not same_sender:
        return
    queue_behind_same_sender(candidate)
    since = timezone.now() - timedelta(seconds=seconds)
    if Comment.objects.filter(same_sender, created_at__gte=since).exists():
        raise Rejected(FLOOD_MESSAGE, 429)


def queue_behind_same_sender(candidate: Candidate) -> None:
    """Make two responses of one sender, arriving at the same moment (through two servers, say), check the
    flood window one after the other, so the second sees the first. SQLite needs nothing: its IMMEDIATE
    transactions let one writer in at a time. PostgreSQL's READ COMMITTED would let both checks pass
    before either stored its row, so the sender's IP and email are locked (transaction-level advisory
    locks, in a fixed order: no deadlock) until the transaction ends."""
    if connection.vendor != "postgresql":
        return
    senders = [f"ip:{candidate.ip_address}"] if candidate.ip_address else []
    senders += [f"email:{candidate.email.lower()}"] if candidate.email else []
    with connection.cursor() as cursor:
        for sender in sorted(senders):
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [sender])


def matches_blocklist(candidate: Candidate) -> bool:
    haystack = "\n".join(
        [candidate.author, candidate.email, candidate.url, candidate.content, candidate.title,
         candidate.blog_name, candidate.source_url, candidate.ip_address or "", candidate.user_agent]
    ).lower()  # fmt: skip
    return any(word.lower() in haystack for word in settings.ARCHIVE_COMMENT_BLOCKLIST)


def link_count(candidate: Candidate, content_html: str) -> int:
    """The links WordPress's check_comment counts. A reply's are the links of its rendered HTML (bare
    addresses included, once linkified). A ping's text has no tags left (`trackback.clean_text`), so its
    links are the addresses written in it, and its own URL counts too: a ping is a link by nature."""
    if candidate.is_ping:
        return markup.count_bare_links(f"{candidate.url} {candidate.content}")
    return markup.count_links(content_html)


def source_host(url: str) -> str:
    """The site a ping comes from: the host of its URL, lower-cased ("" when it has none)."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def known_author(candidate: Candidate) -> bool:
    """First-time rule for replies: the same name and email have a reply approved before."""
    if not (candidate.author and candidate.email):
        return False
    return Comment.objects.filter(
        kind=Comment.Kind.COMMENT,
        status=Comment.Status.APPROVED,
        author=candidate.author,
        author_email__iexact=candidate.email,
    ).exists()


def known_site(candidate: Candidate) -> bool:
    """First-time rule for pings of any kind: the same site (host) has a ping approved before, on any post.
    The database narrows by substring; the host itself is compared here, so `notexample.com` is not
    `example.com`."""
    host = source_host(candidate.url)
    if not host:
        return False
    earlier = (
        Comment.objects.exclude(kind=Comment.Kind.COMMENT)
        .filter(status=Comment.Status.APPROVED, author_url__icontains=host)
        .values_list("author_url", flat=True)
    )
    return any(source_host(url) == host for url in earlier.iterator())


def moderation_status(candidate: Candidate, content_html: str) -> str:
    """Spam if a trap caught it; held for the blocklist, for too many links, or by the site's policy.
    Replies and pings (trackbacks, pingbacks, webmentions alike) follow the same steps; under "first-time"
    a reply needs its author known, a ping its site."""
    if candidate.is_spam:
        return Comment.Status.SPAM
    if matches_blocklist(candidate):
        return Comment.Status.PENDING
    if link_count(candidate, content_html) >= settings.ARCHIVE_COMMENT_MAX_LINKS:
        return Comment.Status.PENDING
    policy = settings.ARCHIVE_COMMENT_MODERATION
    if policy == "all":
        return Comment.Status.PENDING
    if policy == "open":
        return Comment.Status.APPROVED
    known = known_site(candidate) if candidate.is_ping else known_author(candidate)
    return Comment.Status.APPROVED if known else Comment.Status.PENDING


def accept(candidate: Candidate) -> Comment:
    """Run every rule and store the response, or raise Rejected having stored nothing."""
    check_open(candidate)
    key = candidate.dedupe_key()
    content_html = "" if candidate.is_ping else markup.render_comment(candidate.content)
    parent = candidate.parent
    # Before the transaction, which on SQLite holds the one write lock from its start: a copy that slips in
    # meanwhile is still refused, by the unique constraint the check mirrors (comment_unique_outside_trash).
    check_duplicate(candidate, key)
    try:
        with transaction.atomic():
            check_flood(candidate)  # spam too: a bot filling the trap must not store as fast as it likes
            status = moderation_status(candidate, content_html)
            return Comment.objects.create(
                post=candidate.post,
                parent=parent,
                thread_id=(parent.thread_id or parent.pk) if parent else None,
                kind=candidate.kind,
                status=status,
                pending_token=new_pending_token() if status == Comment.Status.PENDING else "",
                author_token="" if candidate.is_ping else new_pending_token(),
                author=candidate.author,
                author_email=candidate.email,
                author_url=candidate.url,
                content=candidate.content,
                content_html=content_html,
                title=candidate.title,
                blog_name=candidate.blog_name,
                source_url=candidate.source_url,
                mention_type=candidate.mention_type,
                published_at=candidate.published_at,
                ip_address=candidate.ip_address,
                user_agent=candidate.user_agent[:255],
                dedupe_key=key,
            )
    except IntegrityError:
        # Another request stored the same response between our check and our insert.
        raise duplicate_rejection(candidate) from None


def revise(comment: Comment, content: str) -> Comment:
    """Its author's edit of a reply, through the same rules as a new one (but flood: it is no new reply):
    no copy of another response, the text rendered again, and held when the blocklist or the links say so
    (an edit never publishes a held reply). The replaced text is kept for moderators (`CommentEdit`)."""
    candidate = Candidate(
        post=comment.post, parent=comment.parent, author=comment.author, email=comment.author_email,
        url=comment.author_url, content=content, ip_address=comment.ip_address, user_agent=comment.user_agent,
    )  # fmt: skip
    key = candidate.dedupe_key()
    content_html = markup.render_comment(content)
    try:
        with transaction.atomic():
            check_duplicate(candidate, key, edited=comment)
            CommentEdit.objects.create(comment=comment, content=comment.content, status=comment.status)
            held = comment.status == Comment.Status.PENDING
            if held or moderation_status(candidate, content_html) == Comment.Status.PENDING:
                comment.status = Comment.Status.PENDING
                comment.pending_token = comment.pending_token or new_pending_token()
            comment.content, comment.content_html, comment.dedupe_key = content, content_html, key
            comment.save()  # a save of an existing response: the page cache moves on (signals.py)
            return comment
    except IntegrityError:
        raise duplicate_rejection(candidate) from None
