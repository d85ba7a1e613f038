"""`{% ping_links post %}`: the <link>s that advertise a post's Pingback server and Webmention endpoint,
from the same URLs as its discovery headers (archive.pings.discovery). rel comes before href, in double
quotes, as the Pingback spec's example regular expression expects."""

from django import template
from django.utils.html import format_html

from ..pings import discovery

register = template.Library()


@register.simple_tag(takes_context=True)
def ping_links(context, post) -> str:
    if not post.pings_open:
        return ""
    urls = discovery.endpoints(context["request"])
    return format_html('<link rel="pingback" href="{}">\n<link rel="webmention" href="{}">',
                       urls["pingback"], urls["webmention"])  # fmt: skip
