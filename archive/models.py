"""Post and Comment, and the query rules that decide who sees what. No HTTP knowledge here."""

from __future__ import annotations

import secrets
from collections.abc import Collection
from datetime import datetime

from django.db import models
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from . import seeds


class RowQuerySet(models.QuerySet):
    def get_or_none(self, **lookup: object) -> models.Model | None:
        """The one row a unique lookup names, or None. Not `filter(...).first()`, which orders by pk and clones
        the query twice more: 0.88 ms of Python against get()'s 0.56 ms for a post, on every reply and ping."""
        try:
            return self.get(**lookup)
        except self.model.DoesNotExist:
            return None


class PostQuerySet(RowQuerySet):
    def without_original(self) -> PostQuerySet:
        """Posts without the archived bytes, which only the original-text view serves: a page, a reply or
        a ping has no use for them, and reading a blob on every request is most of the query's time."""
        return self.defer("original")

    def with_activity(self) -> PostQuerySet:
        """Each post with `public_count`, its approved responses. Ordered again: Django drops Meta.ordering
        from GROUP BY queries. (`updated_at` is the last public change, the pages' Last-Modified.)"""
        return self.order_by(*Post._meta.ordering).annotate(
            public_count=Count("comments", filter=Q(comments__status=Comment.Status.APPROVED)),
        )


class Post(models.Model):
    """An archived article. Everything but the two open/closed switches is read-only after import."""

    title = models.CharField(max_length=500)
    slug = models.SlugField(max_length=200, unique=True, allow_unicode=False)
    body = models.TextField(help_text="The article text after the title, chrome removed, never markup.")
    source_name = models.CharField(
        max_length=255, unique=True, help_text="The seed's file name: the identity key of an import."
    )
    original = models.BinaryField(help_text="The seed file's bytes, exactly as archived.")
    sha256 = models.CharField("SHA-256", max_length=64)
    encoding = models.CharField(max_length=20, help_text="How the original bytes were decoded.")
    chrome = models.JSONField(default=list, blank=True, help_text="Theme lines found after the article.")
    imported_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(
        default=timezone.now,
        help_text="Moves with every change a reader can see (import, switches, public responses): Last-Modified.",
    )
    comments_open = models.BooleanField(default=True)
    pings_open = models.BooleanField(default=True)
    # What a WordPress export (WXR) says and a scraped seed does not: empty or null for seeds.
    content_html = models.TextField(blank=True, help_text="Imported post HTML, sanitised once on import.")
    published_at = models.DateTimeField(null=True, blank=True, db_index=True)
    author_name = models.CharField(max_length=250, blank=True, help_text="The author's display name.")
    source_url = models.URLField(max_length=500, blank=True, help_text="The post's address on its blog.")
    source_path = models.CharField(
        max_length=500, blank=True, db_index=True, help_text="The path of source_url: old links land here."
    )
    wp_post_id = models.PositiveBigIntegerField(
        null=True, blank=True, db_index=True, help_text="wp:post_id; with the blog's URL, the import's identity."
    )
    categories = models.JSONField(default=list, blank=True)
    tags = models.JSONField(default=list, blank=True)

    objects = PostQuerySet.as_manager()

    class Meta:
        ordering = ["-imported_at", "-id"]

    def __str__(self) -> str:
        return self.title

    def save(self, *args: object, **kwargs: object) -> None:
        self.updated_at = timezone.now()
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("archive:post", args=[self.slug])

    def get_page_url(self, page: int | None) -> str:
        """The post's comment page `page`; None is the newest, which is the permalink itself."""
        if page is None:
            return self.get_absolute_url()
        return reverse("archive:post-comments", args=[self.slug, page])

    def get_trackback_url(self) -> str:
        return reverse("archive:trackback", args=[self.slug])

    def get_original_url(self) -> str:
        return reverse("archive:original", args=[self.slug])

    @property
    def original_charset(self) -> str:
        """The IANA name of the charset the original bytes were decoded with (e.g. windows-1252)."""
        return seeds.iana_charset(self.encoding)

    @property
    def is_html(self) -> bool:
        """Imported from a blog export (HTML), rather than scraped plain text."""
        return self.wp_post_id is not None

    @property
    def blocks(self) -> list[seeds.Block]:
        return seeds.split_blocks(self.body)


def new_pending_token() -> str:
    """22 URL-safe characters (128 random bits): what names a held reply to its author."""
    return secrets.token_urlsafe(16)


def visible(pending_tokens: Collection[str]) -> Q:
    """Public responses plus the held replies whose tokens the reader holds (from their signed cookie).
    Tokens, not ids: ids come round again after a restore rolls them back, so an old cookie naming an id
    could show its bearer someone else's held reply; a random token names one reply only, ever."""
    tokens = [token for token in pending_tokens if token]  # "" is every reply held before tokens existed
    public = Q(status=Comment.Status.APPROVED)
    return public | Q(status=Comment.Status.PENDING, pending_token__in=tokens) if tokens else public


class CommentQuerySet(RowQuerySet):
    def public(self) -> CommentQuerySet:
        return self.filter(status=Comment.Status.APPROVED)

    def visible_to(self, pending_tokens: Collection[str]) -> CommentQuerySet:
        return self.filter(visible(pending_tokens))


class Comment(models.Model):
    class Kind(models.TextChoices):
        COMMENT = "comment", "Comment"
        TRACKBACK = "trackback", "Trackback"
        PINGBACK = "pingback", "Pingback"
        WEBMENTION = "webmention", "Webmention"

    class MentionType(models.TextChoices):
        """What a Webmention's h-entry says it is (in-reply-to, like-of, repost-of, bookmark-of, or none)."""

        REPLY = "reply", "Reply"
        LIKE = "like", "Like"
        REPOST = "repost", "Repost"
        BOOKMARK = "bookmark", "Bookmark"
        MENTION = "mention", "Mention"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        SPAM = "spam", "Spam"
        TRASH = "trash", "Trash"

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    thread = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="The top-level comment of this thread, so one page of threads is one query.",
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.COMMENT)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    author = models.CharField(max_length=245, blank=True)
    author_email = models.EmailField(max_length=100, blank=True)
    author_url = models.URLField(max_length=200, blank=True)
    content = models.TextField(blank=True, help_text="What the commenter typed (Markdown), or a ping's excerpt.")
    content_html = models.TextField(blank=True, help_text="Sanitised HTML rendered from content when saved.")
    title = models.CharField(max_length=260, blank=True, help_text="A ping's title.")
    blog_name = models.CharField(max_length=260, blank=True, help_text="A ping's blog name.")
    source_url = models.URLField(
        max_length=2000, blank=True, help_text="The page that links here (Pingback and Webmention), as verified."
    )
    mention_type = models.CharField(max_length=10, choices=MentionType.choices, blank=True)
    published_at = models.DateTimeField(null=True, blank=True, help_text="When the source says it was published.")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    modified_at = models.DateTimeField(auto_now=True)
    pending_token = models.CharField(
        max_length=43,
        blank=True,
        default="",
        editable=False,
        help_text="Random, set when the response is held: its author's cookie names it by this, not by id.",
    )
    dedupe_key = models.CharField(
        max_length=64,
        editable=False,
        help_text="Digest of what makes two responses the same; unique per post outside the trash.",
    )
    author_token = models.CharField(
        max_length=43, blank=True, default="", editable=False,
        help_text="Random, set when a reply is stored: its author's cookie names it by this to edit or delete it.",
    )  # fmt: skip
    wp_comment_id = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="wp:comment_id of an imported response: its content is WordPress HTML."
    )

    objects = CommentQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["post", "status", "parent", "created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["post", "dedupe_key"],
                condition=~Q(status="trash"),
                name="comment_unique_outside_trash",
            ),
            models.UniqueConstraint(
                fields=["pending_token"], condition=~Q(pending_token=""), name="comment_unique_pending_token"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.display_author} on {self.post}"

    def editable_by(self, tokens: Collection[str], since: datetime) -> bool:
        """Its author's to change: their cookie names it, it was written after `since`, it is not trashed."""
        return (
            self.kind == self.Kind.COMMENT
            and bool(self.author_token)
            and self.author_token in tokens
            and self.created_at >= since
            and self.status in (self.Status.APPROVED, self.Status.PENDING)
        )

    @property
    def display_author(self) -> str:
        if self.kind == self.Kind.WEBMENTION:
            return self.author or self.title or self.source_url
        if self.kind != self.Kind.COMMENT:
            return self.blog_name or self.title or self.author_url
        return self.author or "Anonymous"

    @property
    def is_public(self) -> bool:
        return self.status == self.Status.APPROVED

    @property
    def is_reaction(self) -> bool:
        """A like, repost or bookmark: listed by name under the thread, not as a response in it."""
        return self.mention_type in REACTION_TYPES


REACTION_TYPES = (Comment.MentionType.LIKE, Comment.MentionType.REPOST, Comment.MentionType.BOOKMARK)


class CommentEdit(models.Model):
    """A text its author replaced by an edit, kept for moderators (the first text is the oldest row)."""

    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="edits")
    content = models.TextField(help_text="The Markdown the edit replaced.")
    status = models.CharField(max_length=10, choices=Comment.Status.choices, help_text="Its status then.")
    edited_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["edited_at", "id"]

    def __str__(self) -> str:
        return f"Edit of {self.comment_id} at {self.edited_at}"


class SourceHostLease(models.Model):
    """One row per host being fetched from right now: the database's unique index makes taking it atomic
    on every backend and across every worker and server, so no host gets two fetches of ours at once."""

    host = models.CharField(max_length=255, unique=True)
    expires_at = models.DateTimeField(help_text="A worker killed mid-fetch leaves its row; it lapses then.")

    def __str__(self) -> str:
        return f"{self.host} until {self.expires_at}"


def new_subscription_key() -> str:
    """32 URL-safe characters (192 random bits): the unsubscribe link names the subscription by this."""
    return secrets.token_urlsafe(24)


class Subscription(models.Model):
    """A commenter asked, by the box on the reply form, to be told of what follows their comment. It
    counts only once `confirmed_at` is set, by the link mailed to `email` (double opt-in)."""

    class Scope(models.TextChoices):
        REPLIES = "replies", "Replies to my comment"
        ALL = "all", "All new comments on this post"

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="subscriptions")
    comment = models.ForeignKey(
        Comment, on_delete=models.CASCADE, related_name="subscriptions", help_text="The comment that asked."
    )
    email = models.EmailField(max_length=100, db_index=True, help_text="Lower-cased.")
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.REPLIES)
    key = models.CharField(max_length=43, unique=True, default=new_subscription_key, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.email}: {self.get_scope_display().lower()} ({self.post})"
