"""The archive's feeds, at WordPress's URLs, through Django's syndication framework.

- `/feed/`, `/feed/atom/`: the archived posts, newest import first;
- `/comments/feed/`, `/comments/feed/atom/`: the latest public responses of the whole site;
- `/<slug>/feed/`, `/<slug>/feed/atom/`: the latest public responses of one post.

What a feed says is only what is known. The seed has no publication date, so a post's entry carries
none: its import is its Atom `<updated>` and the feed's date, and RSS (whose only item date is
`pubDate`, "when the item was published") gets no item date at all. The seed names no author either;
Atom requires one, so the Atom generator says "unknown" rather than inventing one. Comments and pings
have real dates and authors (never their email). Only public responses appear: `Comment.objects.public()`.

The generators are Django's, extended with the elements WordPress's feeds carry: `slash:comments` and
`wfw:commentRss` in RSS, and RFC 4685 threading in Atom (`link rel="replies"` with `thr:count`,
`thr:total`, `thr:in-reply-to`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed
from django.utils.html import escape
from django.views.decorators.http import require_safe

from . import threads
from .models import Comment, Post

SLASH = "http://purl.org/rss/1.0/modules/slash/"
WFW = "http://wellformedweb.org/CommentAPI/"
THR = "http://purl.org/syndication/thread/1.0"
ITEMS = 10  # WordPress's default for "Syndication feeds show the most recent … items"
UNKNOWN_AUTHOR = "Unknown (the archived text does not name its author)"


# --- Generators -----------------------------------------------------------------------------------------


class LastChange:
    """The feed's own date (RSS `lastBuildDate`, Atom `<updated>`, and the Last-Modified header Django
    derives from it) is the archive's last change as the Feed computed it, not the newest item's date: a
    response removed or a count that moved changes a feed too."""

    feed: dict

    def latest_post_date(self) -> datetime:
        return self.feed.get("last_change") or super().latest_post_date()


class RssFeed(LastChange, Rss201rev2Feed):
    """RSS 2.0 with WordPress's comment count and comment feed per item. Titles are HTML-escaped before the
    XML escaping, as Django's own default does (ticket #6533): RSS readers read `<title>` as HTML, so a
    title's `<` or `&` would otherwise be taken for markup."""

    def __init__(self, title: str, link: str, description: str, **kwargs) -> None:
        super().__init__(escape(title), link, description, **kwargs)

    def add_item(self, title: str, link: str, description: str, **kwargs) -> None:
        super().add_item(escape(title), link, description, **kwargs)

    def rss_attributes(self) -> dict[str, str]:
        return {**super().rss_attributes(), "xmlns:slash": SLASH, "xmlns:wfw": WFW}

    def add_item_elements(self, handler, item: dict) -> None:
        super().add_item_elements(handler, item)
        if item.get("comment_count") is not None:
            handler.addQuickElement("slash:comments", str(item["comment_count"]))
        if item.get("replies_rss"):
            handler.addQuickElement("wfw:commentRss", item["replies_rss"])


class AtomFeed(LastChange, Atom1Feed):
    """Atom 1.0 with RFC 4685 threading, the text in `<content>`, and the feed's own URL as its id (Django's
    default id is the site's link, which three feeds here share)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.feed["id"] = self.feed["feed_url"]

    def root_attributes(self) -> dict[str, str]:
        return {**super().root_attributes(), "xmlns:thr": THR}

    def add_item_elements(self, handler, item: dict) -> None:
        # RFC 4287 §4.1.2: an entry without an author is invalid, so an unknown one is said to be unknown.
        plain = {**item, "description": None, "author_name": item["author_name"] or UNKNOWN_AUTHOR}
        super().add_item_elements(handler, plain)
        if item["description"] is not None:
            handler.addQuickElement("content", item["description"], {"type": "html"})
        if item.get("replies_atom"):
            count = str(item["comment_count"])
            link = {"rel": "replies", "type": "application/atom+xml", "href": item["replies_atom"], "thr:count": count}
            handler.addQuickElement("link", "", link)
            handler.addQuickElement("thr:total", count)
        if item.get("in_reply_to"):
            ref, href = item["in_reply_to"]
            handler.addQuickElement("thr:in-reply-to", "", {"ref": ref, "href": href, "type": "text/html"})


# --- What one entry says --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What a feed is about (one post, or the whole site), and the request that makes its URLs absolute."""

    request: HttpRequest
    post: Post | None = None

    def absolute(self, path: str) -> str:
        return self.request.build_absolute_uri(path)


@dataclass(frozen=True)
class Entry:
    """One feed item with every URL absolute; `source` (a Post or a Comment) is what its text is made of."""

    source: Post | Comment
    title: str
    link: str
    guid: str
    guid_is_permalink: bool
    updated: datetime
    published: datetime | None = None
    author: str | None = None
    author_link: str | None = None
    comments_url: str | None = None
    extra: dict | None = None


def post_entry(scope: Scope, post: Post) -> Entry:
    """A post as WordPress's /feed/ lists it, with its count of public responses and its comment feeds."""
    permalink = scope.absolute(post.get_absolute_url())
    return Entry(
        source=post,
        title=post.title,
        link=permalink,
        guid=permalink,
        guid_is_permalink=True,
        updated=post.imported_at,
        published=post.published_at,  # known for posts from a blog's export, never for seeds
        author=post.author_name or None,
        comments_url=permalink + "#comments",
        extra={
            "comment_count": post.public_count,
            "replies_rss": scope.absolute(reverse("archive:post-comments-feed", args=[post.slug])),
            "replies_atom": scope.absolute(reverse("archive:post-comments-feed-atom", args=[post.slug])),
        },
    )


def comment_guid(scope: Scope, post: Post, pk: int) -> str:
    """WordPress's comment guid: the permalink and the anchor, stable whichever comment page holds it."""
    return scope.absolute(post.get_absolute_url()) + f"#comment-{pk}"


def comment_title(scope: Scope, comment: Comment) -> str:
    """WordPress's titles: "By: Ada" in a post's feed, "Comment on Post by Ada" site-wide; a ping by its kind
    and the title it sent: "Trackback: Their post" (its author is the blog that sent it)."""
    if comment.kind == Comment.Kind.COMMENT:
        if scope.post:
            return f"By: {comment.display_author}"
        return f"Comment on {comment.post.title} by {comment.display_author}"
    kind, said = comment.get_kind_display(), comment.title or comment.author_url
    return f"{kind}: {said}" if scope.post else f"{kind} on {comment.post.title}: {said}"


def comment_entry(scope: Scope, comment: Comment) -> Entry:
    """A public response, linked to its `#comment-N` on the comment page that holds it. It answers its
    parent when the parent is public, else the post (RFC 4685 `thr:in-reply-to`)."""
    post = comment.post
    page = scope.absolute(post.get_page_url(threads.page_of(comment)))
    parent = comment.parent
    if parent is not None and parent.is_public:  # a parent shares its thread, so its comment page too
        in_reply_to = (comment_guid(scope, post, parent.pk), f"{page}#comment-{parent.pk}")
    else:
        permalink = scope.absolute(post.get_absolute_url())
        in_reply_to = (permalink, permalink)
    return Entry(
        source=comment,
        title=comment_title(scope, comment),
        link=f"{page}#comment-{comment.pk}",
        guid=comment_guid(scope, post, comment.pk),
        guid_is_permalink=False,
        published=comment.created_at,
        updated=comment.created_at,
        author=comment.display_author,
        author_link=comment.author_url or None,
        extra={"in_reply_to": in_reply_to},
    )


# --- The feeds ------------------------------------------------------------------------------------------


class ArchiveFeed(Feed):
    """What every feed here shares: `Entry` items (post_entry, comment_entry), absolute URLs from the
    request, the date of the last public change, and read-only methods."""

    feed_type = RssFeed
    url_name = ""
    csrf_exempt = True  # read by CsrfViewMiddleware: a feed is read-only, anything but GET/HEAD is 405

    @method_decorator(require_safe)
    def __call__(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return super().__call__(request, *args, **kwargs)

    def get_object(self, request: HttpRequest, slug: str | None = None) -> Scope:
        if slug is None:
            return Scope(request)
        return Scope(request, get_object_or_404(Post.objects.with_activity(), slug=slug))

    def feed_url(self, scope: Scope) -> str:
        return reverse(self.url_name, args=[scope.post.slug] if scope.post else [])

    def link(self, scope: Scope) -> str:
        return scope.post.get_absolute_url() if scope.post else reverse("archive:index")

    def description(self, scope: Scope) -> str:
        return settings.ARCHIVE_SITE_TAGLINE

    def subtitle(self, scope: Scope) -> str:
        return self.description(scope)

    def last_change(self, scope: Scope) -> datetime | None:
        if scope.post:
            return scope.post.updated_at
        return Post.objects.aggregate(last=Max("updated_at"))["last"]

    def feed_extra_kwargs(self, scope: Scope) -> dict:
        return {"last_change": self.last_change(scope)}

    def item_title(self, entry: Entry) -> str:
        return entry.title

    def item_link(self, entry: Entry) -> str:
        return entry.link

    def item_guid(self, entry: Entry) -> str:
        return entry.guid

    def item_guid_is_permalink(self, entry: Entry) -> bool:
        return entry.guid_is_permalink

    def item_pubdate(self, entry: Entry) -> datetime | None:
        return entry.published

    def item_updateddate(self, entry: Entry) -> datetime:
        return entry.updated

    def item_author_name(self, entry: Entry) -> str | None:
        return entry.author

    def item_author_link(self, entry: Entry) -> str | None:
        return entry.author_link

    def item_comments(self, entry: Entry) -> str | None:
        return entry.comments_url

    def item_extra_kwargs(self, entry: Entry) -> dict:
        return entry.extra or {}


class PostsFeed(ArchiveFeed):
    """`/feed/`: the archived posts, their text literal (escaped once, as on the page)."""

    url_name = "archive:feed"
    description_template = "archive/feeds/article.html"

    def title(self, scope: Scope) -> str:
        return settings.ARCHIVE_SITE_NAME

    def items(self, scope: Scope) -> list[Entry]:
        return [post_entry(scope, post) for post in Post.objects.with_activity()[:ITEMS]]


class CommentsFeed(ArchiveFeed):
    """`/comments/feed/` and `/<slug>/feed/`: the latest public responses, newest first."""

    url_name = "archive:comments-feed"
    description_template = "archive/feeds/comment.html"

    def title(self, scope: Scope) -> str:
        if scope.post:
            return f"Comments on: {scope.post.title}"
        return f"Comments for {settings.ARCHIVE_SITE_NAME}"

    def items(self, scope: Scope) -> list[Entry]:
        public = Comment.objects.public().select_related("post", "parent", "thread")
        if scope.post:
            public = public.filter(post=scope.post)
        latest = public.order_by("-created_at", "-id")[:ITEMS]
        return [comment_entry(scope, comment) for comment in latest]


class PostCommentsFeed(CommentsFeed):
    url_name = "archive:post-comments-feed"


class PostsAtomFeed(PostsFeed):
    feed_type = AtomFeed
    url_name = "archive:feed-atom"


class CommentsAtomFeed(CommentsFeed):
    feed_type = AtomFeed
    url_name = "archive:comments-feed-atom"


class PostCommentsAtomFeed(CommentsFeed):
    feed_type = AtomFeed
    url_name = "archive:post-comments-feed-atom"
