"""`{% avatar comment %}`: the comment's avatar, generated or through the Gravatar proxy (decorative: alt="")."""

from django import template
from django.conf import settings
from django.urls import reverse
from django.utils.html import format_html

from .. import avatars

register = template.Library()


@register.simple_tag
def avatar(comment) -> str:
    if settings.ARCHIVE_AVATARS == "gravatar" and comment.author_email:
        url = reverse("archive:gravatar", args=[avatars.gravatar_token(comment.author_email)])
    else:
        url = reverse("archive:avatar", args=[avatars.digest(comment.author_email, comment.author)])
    return format_html('<img class="avatar avatar-{0} photo" src="{1}" alt="" width="{0}" height="{0}" loading="lazy">',
                       avatars.SIZE, url)  # fmt: skip
