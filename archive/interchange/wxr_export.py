"""The archive → WXR 1.2, as WordPress's export.php writes it, for the WordPress Importer and for
`import_wxr` into another archive. Posts are written one at a time (streaming); each with its public
responses (and held ones, if asked), threading and types. Spam and trash stay behind.

IDs are the archive's own (post and comment primary keys), so another import of this file knows each post
by this archive's address and that ID. Imported posts give back their HTML as sanitised on import; imported
comments give back WordPress's own comment HTML; replies written here give their rendered HTML.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import TextIO

from django.utils import timezone
from django.utils.text import slugify

from ..models import Comment, Post

WXR_VERSION = "1.2"
GENERATOR = "wp-archive (Django)"
ANONYMOUS_LOGIN = "archive"
APPROVED = {Comment.Status.APPROVED: "1", Comment.Status.PENDING: "0"}


def cdata(value: str) -> str:
    """WordPress's wxr_cdata: a CDATA section, any "]]>" inside split across two."""
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def esc(value: str) -> str:
    return html.escape(value, quote=True)


def mysql(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def rfc822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC))  # "Tue, 12 Jan 2016 10:00:00 +0000", in any locale


def author_login(post: Post) -> str:
    return slugify(post.author_name) or ANONYMOUS_LOGIN


def post_html(post: Post) -> str:
    """What content:encoded holds: the imported HTML, or a seed's paragraphs and subheadings as HTML."""
    if post.is_html:
        return post.content_html
    return "\n\n".join(
        f"<{block.kind}>{esc(block.text)}</{block.kind}>" if block.kind == "h2" else esc(block.text)
        for block in post.blocks
    )  # a seed's paragraphs as WordPress stores them: blank-line separated text, wpautop'd when shown


def comment_content(comment: Comment) -> str:
    if comment.kind == Comment.Kind.TRACKBACK:
        return f"<strong>{esc(comment.title)}</strong>\n\n{esc(comment.content)}"
    if comment.kind == Comment.Kind.PINGBACK:
        return esc(comment.content)
    return comment.content if comment.wp_comment_id is not None else comment.content_html


def comment_xml(comment: Comment, exported: set[int]) -> str:
    parent = comment.parent_id if comment.parent_id in exported else 0
    author = comment.author if comment.kind == Comment.Kind.COMMENT else (comment.blog_name or comment.author)
    fields = [
        f"\t\t\t<wp:comment_id>{comment.pk}</wp:comment_id>",
        f"\t\t\t<wp:comment_author>{cdata(author)}</wp:comment_author>",
        f"\t\t\t<wp:comment_author_email>{cdata(comment.author_email)}</wp:comment_author_email>",
        f"\t\t\t<wp:comment_author_url>{esc(comment.author_url)}</wp:comment_author_url>",
        f"\t\t\t<wp:comment_author_IP>{cdata(comment.ip_address or '')}</wp:comment_author_IP>",
        f"\t\t\t<wp:comment_date>{cdata(mysql(comment.created_at))}</wp:comment_date>",
        f"\t\t\t<wp:comment_date_gmt>{cdata(mysql(comment.created_at))}</wp:comment_date_gmt>",
        f"\t\t\t<wp:comment_content>{cdata(comment_content(comment))}</wp:comment_content>",
        f"\t\t\t<wp:comment_approved>{cdata(APPROVED[comment.status])}</wp:comment_approved>",
        f"\t\t\t<wp:comment_type>{cdata(comment.kind)}</wp:comment_type>",
        f"\t\t\t<wp:comment_parent>{parent}</wp:comment_parent>",
        "\t\t\t<wp:comment_user_id>0</wp:comment_user_id>",
    ]
    return "\t\t<wp:comment>\n" + "\n".join(fields) + "\n\t\t</wp:comment>\n"


def term_xml(domain: str, name: str) -> str:
    nicename = esc(slugify(name, allow_unicode=True))
    return f'\t\t<category domain="{domain}" nicename="{nicename}">{cdata(name)}</category>'


def item_xml(post: Post, comments: list[Comment], base_url: str) -> str:
    is_page = "/?page_id=" in post.source_name
    published = post.published_at or post.imported_at
    link = base_url + post.get_absolute_url()
    terms = [("category", name) for name in post.categories] + [("post_tag", name) for name in post.tags]
    lines = [
        "\t<item>",
        f"\t\t<title>{cdata(post.title)}</title>",
        f"\t\t<link>{esc(link)}</link>",
        f"\t\t<pubDate>{rfc822(published)}</pubDate>",
        f"\t\t<dc:creator>{cdata(author_login(post))}</dc:creator>",
        f'\t\t<guid isPermaLink="false">{esc(base_url)}/?{"page_id" if is_page else "p"}={post.pk}</guid>',
        "\t\t<description></description>",
        f"\t\t<content:encoded>{cdata(post_html(post))}</content:encoded>",
        f"\t\t<excerpt:encoded>{cdata('')}</excerpt:encoded>",
        f"\t\t<wp:post_id>{post.pk}</wp:post_id>",
        f"\t\t<wp:post_date>{cdata(mysql(published))}</wp:post_date>",
        f"\t\t<wp:post_date_gmt>{cdata(mysql(published))}</wp:post_date_gmt>",
        f"\t\t<wp:post_modified>{cdata(mysql(post.updated_at))}</wp:post_modified>",
        f"\t\t<wp:post_modified_gmt>{cdata(mysql(post.updated_at))}</wp:post_modified_gmt>",
        f"\t\t<wp:comment_status>{cdata('open' if post.comments_open else 'closed')}</wp:comment_status>",
        f"\t\t<wp:ping_status>{cdata('open' if post.pings_open else 'closed')}</wp:ping_status>",
        f"\t\t<wp:post_name>{cdata(post.slug)}</wp:post_name>",
        f"\t\t<wp:status>{cdata('publish')}</wp:status>",
        "\t\t<wp:post_parent>0</wp:post_parent>",
        "\t\t<wp:menu_order>0</wp:menu_order>",
        f"\t\t<wp:post_type>{cdata('page' if is_page else 'post')}</wp:post_type>",
        f"\t\t<wp:post_password>{cdata('')}</wp:post_password>",
        "\t\t<wp:is_sticky>0</wp:is_sticky>",
        *(term_xml(domain, name) for domain, name in terms),
    ]
    exported = {c.pk for c in comments}
    return "\n".join(lines) + "\n" + "".join(comment_xml(c, exported) for c in comments) + "\t</item>\n"


def authors_xml(posts: Iterable[Post]) -> str:
    names = {author_login(p): p.author_name for p in posts}  # a seed's author is unknown: no name
    return "".join(
        f"\t<wp:author><wp:author_id>{n}</wp:author_id><wp:author_login>{cdata(login)}</wp:author_login>"
        f"<wp:author_email>{cdata('')}</wp:author_email>"
        f"<wp:author_display_name>{cdata(name)}</wp:author_display_name>"
        f"<wp:author_first_name>{cdata('')}</wp:author_first_name>"
        f"<wp:author_last_name>{cdata('')}</wp:author_last_name></wp:author>\n"
        for n, (login, name) in enumerate(sorted(names.items()), start=1)
    )


def export(out: TextIO, *, base_url: str, site_name: str, include_held: bool = False) -> Iterator[str]:
    """Write the WXR to `out`; yields a line per post written."""
    base_url = base_url.rstrip("/")
    statuses = [Comment.Status.APPROVED, *([Comment.Status.PENDING] if include_held else [])]
    posts = Post.objects.without_original().order_by("pk")
    header_posts = Post.objects.only("author_name").order_by("pk")
    out.write(
        '<?xml version="1.0" encoding="UTF-8" ?>\n'
        "<!-- This is a WordPress eXtended RSS file generated by an archive as an export of its posts. -->\n"
        f'<!-- generator="{GENERATOR}" created="{timezone.now():%Y-%m-%d %H:%M}" -->\n'
        '<rss version="2.0"\n'
        '\txmlns:excerpt="http://wordpress.org/export/1.2/excerpt/"\n'
        '\txmlns:content="http://purl.org/rss/1.0/modules/content/"\n'
        '\txmlns:wfw="http://wellformedweb.org/CommentAPI/"\n'
        '\txmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '\txmlns:wp="http://wordpress.org/export/1.2/"\n'
        ">\n\n<channel>\n"
        f"\t<title>{esc(site_name)}</title>\n\t<link>{esc(base_url)}</link>\n"
        f"\t<description></description>\n\t<pubDate>{rfc822(timezone.now())}</pubDate>\n"
        f"\t<language>en-US</language>\n\t<wp:wxr_version>{WXR_VERSION}</wp:wxr_version>\n"
        f"\t<wp:base_site_url>{esc(base_url)}</wp:base_site_url>\n"
        f"\t<wp:base_blog_url>{esc(base_url)}</wp:base_blog_url>\n\n"
        + authors_xml(header_posts.iterator())
        + f"\n\t<generator>{GENERATOR}</generator>\n\n"
    )
    for post in posts.iterator(chunk_size=200):
        comments = list(post.comments.filter(status__in=statuses).order_by("pk"))
        out.write(item_xml(post, comments, base_url))
        yield f"{post.get_absolute_url()}: {len(comments)} response{'s' if len(comments) != 1 else ''}"
    out.write("</channel>\n</rss>\n")
