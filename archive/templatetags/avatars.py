"""`{% avatar comment %}`: the comment's generated avatar (decorative: alt="")."""

from django import template
from django.urls import reverse
from django.utils.html import format_html

from .. import avatars

register = template.Library()


@register.simple_tag
def avatar(comment) -> str:
    url = reverse("archive:avatar", args=[avatars.digest(comment.author_email, comment.author)])
    return format_html('<img class="avatar avatar-{0} photo" src="{1}" alt="" width="{0}" height="{0}" loading="lazy">',
                       avatars.SIZE, url)  # fmt: skip
