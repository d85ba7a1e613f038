"""What crawlers read: the sitemap (sitemaps.org protocol, through Django's sitemaps framework), every
archived post with the date of its last public change as `lastmod` (the instant its page sends as
Last-Modified), and the robots.txt that names it."""

from __future__ import annotations

from datetime import datetime

from django.contrib.sitemaps import Sitemap
from django.contrib.sitemaps.views import sitemap
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from django.views.generic import TemplateView

from .models import Post
from .pagecache import public_page


class PostSitemap(Sitemap):
    def items(self):
        return Post.objects.only("slug", "updated_at")

    def lastmod(self, post: Post) -> datetime:
        return post.updated_at


SITEMAPS = {"posts": PostSitemap}


@csrf_exempt  # read-only: anything but GET and HEAD is 405, not a CSRF 403
@require_safe
@public_page
def sitemap_xml(request: HttpRequest) -> HttpResponse:
    return sitemap(request, SITEMAPS)


robots_txt = csrf_exempt(
    public_page(TemplateView.as_view(template_name="robots.txt", content_type="text/plain; charset=utf-8"))
)
