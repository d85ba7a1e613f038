"""A WordPress export (WXR 1.0–1.2) → Post and Comment rows.

Identity of a post: the blog's address (wp:base_blog_url) and its wp:post_id, kept as `source_name`
("https://blog.example/?p=12"); of a comment: its post and wp:comment_id. An item whose bytes are the
same as last time is "unchanged" and nothing is written; other bytes update the post (its slug, once
given, stays: it is a permalink) and its imported comments. Each post is one transaction, so a file that
breaks off mid-item stores every post before it and nothing of that one.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit
from xml.etree.ElementTree import Element

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from .. import markup
from ..importing import SOURCE_NAME_MAX, TITLE_MAX, ImportResult, free_slug
from ..models import Comment, Post
from ..signals import public_change
from .wxrstream import Channel, WxrError, WxrReader, text

STATUSES = {
    "1": Comment.Status.APPROVED,
    "approve": Comment.Status.APPROVED,
    "0": Comment.Status.PENDING,
    "hold": Comment.Status.PENDING,
    "spam": Comment.Status.SPAM,
    "trash": Comment.Status.TRASH,
    "post-trashed": Comment.Status.TRASH,
}
KINDS = {"pingback": Comment.Kind.PINGBACK, "trackback": Comment.Kind.TRACKBACK}
TRACKBACK_TITLE = re.compile(r"^\s*<strong>(.*?)</strong>\s*", re.DOTALL | re.IGNORECASE)
BLOCK_END = re.compile(r"</(?:p|h[1-6]|li|blockquote|pre|div|figure|table|tr)>|<br\s*/?>", re.IGNORECASE)
URL_MAX = Comment._meta.get_field("author_url").max_length
SOURCE_URL_MAX = Post._meta.get_field("source_url").max_length


@dataclass(frozen=True)
class Options:
    pages: bool = False  # wp:post_type "page" too


def wp_datetime(gmt: str, local: str = "", rfc822: str = "") -> datetime | None:
    """WordPress's dates: `*_gmt` ("2016-01-12 10:00:00", UTC; all zeros when never set), then the RSS
    pubDate, then the blog's local time read as UTC (the export does not say the blog's time zone)."""
    return mysql_datetime(gmt) or rfc822_datetime(rfc822) or mysql_datetime(local)


def mysql_datetime(value: str) -> datetime | None:
    try:
        return datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:  # empty, or "0000-00-00 00:00:00"
        return None


def rfc822_datetime(value: str) -> datetime | None:
    try:
        return parsedate_to_datetime(value.strip()) if value.strip() else None
    except (TypeError, ValueError):
        return None


def plain_body(content_html: str) -> str:
    """The post's text with blank lines between blocks: for search, descriptions and plain readers."""
    spaced = markup.plain_text(BLOCK_END.sub(lambda m: m.group(0) + "\n\n", content_html))
    return "\n\n".join(block.strip() for block in re.split(r"\n\s*\n", spaced) if block.strip())


def post_fields(item: Element, raw: bytes, channel: Channel) -> dict:
    link = text(item, "link").strip()
    path = unquote(urlsplit(link).path) if link else ""  # compared with request.path, which is decoded
    content_html = markup.render_post_html(text(item, "content:encoded"))
    categories, tags = [], []
    for term in item.iter("category"):
        (tags if term.get("domain") == "post_tag" else categories).append((term.text or "").strip())
    creator = text(item, "dc:creator")
    return {
        "title": markup.plain_text(text(item, "title")).strip() or "(no title)",
        "content_html": content_html or "<p></p>",
        "body": plain_body(content_html),
        "original": raw,
        "sha256": hashlib.sha256(raw).hexdigest(),
        "encoding": "utf-8",
        "chrome": [],
        "published_at": wp_datetime(
            text(item, "wp:post_date_gmt"), text(item, "wp:post_date"), text(item, "pubDate")
        ),
        "author_name": channel.authors.get(creator, creator)[:250],
        "source_url": link if len(link) <= SOURCE_URL_MAX else "",
        "source_path": path if path not in ("", "/") and len(path) <= SOURCE_URL_MAX else "",
        "categories": [c for c in categories if c],
        "tags": [t for t in tags if t],
        "comments_open": text(item, "wp:comment_status", "open") == "open",
        "pings_open": text(item, "wp:ping_status", "open") == "open",
    }


def ip_or_none(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def comment_fields(element: Element, channel: Channel) -> dict:
    """One wp:comment. Replies keep WordPress's HTML as `content` and get the reply allowlist's rendering;
    pings are text (title and excerpt), as this archive's own pings are."""
    kind = KINDS.get(text(element, "wp:comment_type").strip(), Comment.Kind.COMMENT)
    content = text(element, "wp:comment_content")
    author = markup.plain_text(text(element, "wp:comment_author")).strip()[:245]  # WordPress keeps entities
    url = text(element, "wp:comment_author_url").strip()
    fields = {
        "kind": kind,
        "status": STATUSES.get(text(element, "wp:comment_approved").strip(), Comment.Status.PENDING),
        "author": author,
        "author_email": text(element, "wp:comment_author_email").strip()[:100],
        "author_url": url if len(url) <= URL_MAX else "",
        "ip_address": ip_or_none(text(element, "wp:comment_author_IP")),
        "created_at": wp_datetime(text(element, "wp:comment_date_gmt"), text(element, "wp:comment_date"))
        or timezone.now(),
        "content": content,
        "content_html": "",
        "title": "",
        "blog_name": "",
    }
    if kind == Comment.Kind.COMMENT:
        fields["content_html"] = markup.render_imported_comment(content)
    else:
        title = TRACKBACK_TITLE.match(content)
        excerpt = content[title.end() :] if title else content
        fields["title"] = markup.plain_text(title.group(1)).strip()[:260] if title else author[:260]
        fields["blog_name"] = author[:260]
        fields["content"] = markup.plain_text(excerpt).strip()
    return fields


def wp_int(element: Element, tag: str) -> int | None:
    value = text(element, tag).strip()
    return int(value) if value.isascii() and value.isdigit() else None


def save_comments(post: Post, item: Element, channel: Channel) -> None:
    """Insert or update every wp:comment of the item, then hang each on its parent (wp:comment_parent),
    which may come after it in the file. Responses written in the archive itself are left alone."""
    existing = {c.wp_comment_id: c for c in post.comments.filter(wp_comment_id__isnull=False)}
    by_id: dict[int, Comment] = {}
    parents: dict[int, int] = {}
    for element in item.iter("wp:comment"):
        wp_id = wp_int(element, "wp:comment_id")
        if wp_id is None or wp_id in by_id:
            continue
        comment = existing.get(wp_id) or Comment(post=post, wp_comment_id=wp_id)
        for key, value in comment_fields(element, channel).items():
            setattr(comment, key, value)
        comment.dedupe_key = hashlib.sha256(f"wxr\x00{channel.identity}\x00{wp_id}".encode()).hexdigest()
        by_id[wp_id] = comment
        parents[wp_id] = wp_int(element, "wp:comment_parent") or 0
    new = [c for c in by_id.values() if c.pk is None]
    old = [c for c in by_id.values() if c.pk is not None]
    Comment.objects.bulk_create(new, batch_size=500)
    for wp_id, comment in by_id.items():
        parent = by_id.get(parents[wp_id])
        comment.parent = parent
        comment.thread = thread_root(wp_id, parents, by_id) if parent else None
    fields = [f.name for f in Comment._meta.concrete_fields if f.name not in ("id", "post", "wp_comment_id")]
    Comment.objects.bulk_update(old, fields, batch_size=500)  # only when a changed export is read again
    Comment.objects.bulk_update([c for c in new if c.parent], ["parent", "thread"], batch_size=500)


def thread_root(wp_id: int, parents: dict[int, int], by_id: dict[int, Comment]) -> Comment:
    """The top-level comment above this one (a parent loop in the export ends the walk where it closes)."""
    seen = {wp_id}
    while parents.get(wp_id) in by_id and parents[wp_id] not in seen:
        wp_id = parents[wp_id]
        seen.add(wp_id)
    return by_id[wp_id]


def import_item(item: Element, raw: bytes, channel: Channel, options: Options) -> ImportResult | None:
    """One <item>: a result line for posts (and pages with --pages), None for what is not archived."""
    post_type = text(item, "wp:post_type", "post")
    if post_type not in ("post", "page") or (post_type == "page" and not options.pages):
        return None
    wp_id = wp_int(item, "wp:post_id")
    if wp_id is None:
        return ImportResult(f"{channel.identity} item", "error", "no wp:post_id")
    name = f"{channel.identity}/?p={wp_id}" if post_type == "post" else f"{channel.identity}/?page_id={wp_id}"
    if len(name) > SOURCE_NAME_MAX:
        return ImportResult(name[:80] + "…", "error", f"the blog's address is longer than {SOURCE_NAME_MAX - 20}")
    status = text(item, "wp:status")
    if status != "publish":
        return ImportResult(name, "skipped", f"status {status or 'unknown'}: only published posts are archived")
    if text(item, "wp:post_password"):
        return ImportResult(name, "skipped", "password-protected: not archived")
    fields = post_fields(item, raw, channel)
    fields["title"] = fields["title"][:TITLE_MAX]
    with transaction.atomic():
        post = Post.objects.filter(source_name=name).first()
        if post is not None and post.sha256 == fields["sha256"]:
            return ImportResult(f"{name} ({post.slug})", "unchanged")
        outcome = "updated" if post else "created"
        if post is None:
            wanted = slugify(unquote(text(item, "wp:post_name"))) or slugify(fields["title"])
            post = Post(source_name=name, slug=free_slug(wanted), wp_post_id=wp_id)
        for key, value in fields.items():
            setattr(post, key, value)
        post.imported_at = timezone.now()
        post.save()
        save_comments(post, item, channel)
        public_change([post.pk])
    return ImportResult(f"{name} ({post.slug})", outcome)


def import_export(path: Path, options: Options) -> Iterator[ImportResult]:
    """Every post of one export file, as it is read; last, a line for the file (its digest, or its error)."""
    try:
        stream = path.open("rb")
    except OSError as exc:
        yield ImportResult(str(path), "error", f"cannot be read ({exc.strerror or exc})")
        return
    with stream:
        reader = WxrReader(stream)
        try:
            for raw_item in reader.items():
                result = import_item(raw_item.element, raw_item.raw, reader.channel, options)
                if result is not None:
                    yield result
        except WxrError as exc:
            yield ImportResult(str(path), "error", f"{exc}; nothing after it was imported")
            return
    yield ImportResult(str(path), "read", f"WXR {reader.channel.wxr_version or '?'}, SHA-256 {reader.sha256}")
