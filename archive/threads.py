"""The responses of a post as WordPress lists them: threads of replies, paged by top-level thread.

One page costs three queries whatever the number of comments: counts, the page's top-level responses,
and everything below them (found through `Comment.thread`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Q, QuerySet

from . import pagecache
from .models import REACTION_TYPES, Comment, Post, visible

REACTION_LABELS = {Comment.MentionType.LIKE: "Liked by", Comment.MentionType.REPOST: "Reposted by",
                   Comment.MentionType.BOOKMARK: "Bookmarked by"}  # fmt: skip
IN_THREADS = ~Q(mention_type__in=REACTION_TYPES)  # likes, reposts, bookmarks are listed by name instead


@dataclass
class Node:
    comment: Comment
    depth: int
    children: list[Node] = field(default_factory=list)

    @property
    def can_reply(self) -> bool:
        return self.depth < settings.ARCHIVE_THREAD_DEPTH and self.comment.is_public


@dataclass
class ThreadPage:
    nodes: list[Node]
    number: int
    num_pages: int
    public_count: int
    reactions: list[tuple[str, list[Comment]]] = field(default_factory=list)

    @property
    def is_last(self) -> bool:
        return self.number == self.num_pages

    @property
    def has_older(self) -> bool:
        return self.number > 1

    @property
    def has_newer(self) -> bool:
        return self.number < self.num_pages


def per_page() -> int:
    return max(1, settings.ARCHIVE_COMMENTS_PER_PAGE)


def summary(post: Post, pending_tokens: frozenset[str]) -> dict:
    """Counts for the heading and the pager, in one query; for a reader with no held reply of their own,
    kept under the page-cache version, which every change to those counts moves on (readers with
    remembered details and links with a query string are rendered for them, but count the same).

    The heading counts what every reader sees: approved responses whose thread root is approved too. A
    reply below a root taken away (spam, trash, held) is not shown, as its thread is paged by that root;
    we do not re-hang such replies at the top level (WordPress's walker does so for orphans) because they
    answer a text the reader can no longer read, and a reply promoted to a thread would move pages about."""
    if pending_tokens:
        return count(post, pending_tokens)
    key = f"archive:thread-summary:{pagecache.current_version()}:{post.pk}"  # read before the query
    counts = cache.get(key)
    if counts is None:
        counts = count(post, pending_tokens)
        cache.set(key, counts, timeout=settings.ARCHIVE_PAGE_CACHE_SECONDS)
    return counts


def count(post: Post, pending_tokens: frozenset[str]) -> dict[str, int]:
    in_public_thread = Q(parent=None) | Q(thread__status=Comment.Status.APPROVED)
    return Comment.objects.filter(post=post).aggregate(
        public=Count("pk", filter=Q(status=Comment.Status.APPROVED) & in_public_thread),
        top=Count("pk", filter=visible(pending_tokens) & Q(parent=None) & IN_THREADS),
        reactions=Count("pk", filter=Q(status=Comment.Status.APPROVED) & ~IN_THREADS),
    )


def thread_page(post: Post, number: int | None, pending_tokens: frozenset[str] = frozenset()) -> ThreadPage:
    """Page `number` of the threads (1 = oldest); None means the newest page, WordPress's default.

    Raises ValueError for a page that does not exist.
    """
    counts = summary(post, pending_tokens)
    num_pages = max(1, -(-counts["top"] // per_page()))
    if number is None:
        number = num_pages
    if not 1 <= number <= num_pages:
        raise ValueError(f"no comment page {number}")
    roots, below = [], []
    if counts["top"]:  # most archived posts have no responses: not even a queryset to build then
        shown = Comment.objects.filter(post=post).visible_to(pending_tokens)
        roots = page_roots(shown.filter(IN_THREADS, parent=None), counts["top"], number)
        below = list(shown.filter(thread__in=roots).order_by("created_at", "id")) if roots else []
    return ThreadPage(
        nodes=build_tree(roots, below),
        number=number,
        num_pages=num_pages,
        public_count=counts["public"],
        reactions=reactions(post) if counts["reactions"] else [],
    )


def comments_of(page: ThreadPage) -> list[Comment]:
    """Every comment shown on the page, at any depth."""
    found, todo = [], list(page.nodes)
    while todo:
        node = todo.pop()
        found.append(node.comment)
        todo.extend(node.children)
    return found


def reactions(post: Post) -> list[tuple[str, list[Comment]]]:
    """The post's public likes, reposts and bookmarks, grouped under their labels, oldest first."""
    found = Comment.objects.public().filter(post=post).exclude(IN_THREADS).order_by("created_at", "id")
    grouped = {kind: [c for c in found if c.mention_type == kind] for kind in REACTION_LABELS}
    return [(REACTION_LABELS[kind], people) for kind, people in grouped.items() if people]


def page_roots(top_level: QuerySet[Comment], total: int, number: int) -> list[Comment]:
    """The top-level responses of page `number`, oldest first. Pages nearer the end (the default page is
    the last) are read from the newest backwards, so no page costs an OFFSET over thousands of threads."""
    start = (number - 1) * per_page()
    stop = min(start + per_page(), total)
    if start >= stop:
        return []
    if start > total - stop:
        newest_first = top_level.order_by("-created_at", "-id")[total - stop : total - start]
        return list(newest_first)[::-1]
    return list(top_level.order_by("created_at", "id")[start:stop])


def build_tree(roots: list[Comment], below: list[Comment]) -> list[Node]:
    """Nest replies under their parents. Past the depth limit replies stay at the last level, as in
    WordPress; a reply whose parent is hidden (held, spam) hangs from its thread's first comment."""
    max_depth = max(1, settings.ARCHIVE_THREAD_DEPTH)
    top: list[Node] = []
    nodes: dict[int, Node] = {}
    holders: dict[int, list[Node]] = {}  # the list each node sits in
    for comment in roots:
        nodes[comment.pk] = Node(comment, 1)
        holders[comment.pk] = top
        top.append(nodes[comment.pk])
    for comment in below:  # oldest first, so a parent is always placed before its replies
        parent = nodes.get(comment.parent_id) or nodes.get(comment.thread_id)
        if parent is None:
            continue
        if parent.depth < max_depth:
            node, holder = Node(comment, parent.depth + 1), parent.children
        else:
            node, holder = Node(comment, max_depth), holders[parent.comment.pk]
        holder.append(node)
        nodes[comment.pk] = node
        holders[comment.pk] = holder
    return top


def page_of(comment: Comment, pending_tokens: frozenset[str] = frozenset()) -> int | None:
    """The comment page holding `comment`, or None when that is the newest page (the permalink itself)."""
    root = comment.thread or comment
    top_level = Comment.objects.filter(post_id=comment.post_id, parent=None)
    # A new thread, the usual case, is on the newest page: one index range finds nothing shown after it.
    # (Ties in time count as after here, so they take the exact way below.)
    newer = top_level.filter(created_at__gte=root.created_at).exclude(pk=root.pk)
    if not newer.visible_to(pending_tokens).exists():
        return None
    shown = top_level.visible_to(pending_tokens) | top_level.filter(pk=root.pk)
    before = shown.filter(Q(created_at__lt=root.created_at) | Q(created_at=root.created_at, id__lt=root.pk))
    number = before.count() // per_page() + 1
    total = shown.count()
    return None if number >= -(-total // per_page()) else number
