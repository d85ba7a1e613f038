"""Template tags for the article's metadata (archive/metadata.py), with the URLs made absolute from the
request: Open Graph and JSON-LD consumers need absolute URLs."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from archive import metadata
from archive.models import Post

register = template.Library()


@register.simple_tag(takes_context=True)
def absolute_url(context: template.Context, path: str) -> str:
    return context["request"].build_absolute_uri(path)


@register.simple_tag(takes_context=True)
def article_json_ld(context: template.Context, post: Post, comment_count: int) -> SafeString:
    request = context["request"]
    data = metadata.article(
        post,
        url=request.build_absolute_uri(post.get_absolute_url()),
        original_url=request.build_absolute_uri(post.get_original_url()),
        comment_count=comment_count,
    )
    return metadata.json_ld_script(data)


register.filter("og_description", metadata.description)
