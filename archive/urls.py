from django.contrib import admin
from django.urls import include, path

from . import loginlimit, views
from .pings import views as pings_views

archive_patterns = [
    path("", views.index, name="index"),
    path("comments/post/", views.reply, name="reply"),
    path("xmlrpc.php", pings_views.xmlrpc, name="pingback"),
    path("webmention/", pings_views.webmention_endpoint, name="webmention"),
    path("<slug:slug>/", views.post_detail, name="post"),
    path("<slug:slug>/comment-page-<int:page>/", views.post_detail, name="post-comments"),
    path("<slug:slug>/original.txt", views.original, name="original"),
    path("<slug:slug>/trackback/", views.trackback_ping, name="trackback"),
]

urlpatterns = [
    # The admin's login, behind the failed-attempt brake (archive/loginlimit.py); it must come first.
    path("admin/login/", loginlimit.admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("", include((archive_patterns, "archive"))),
]

handler404 = "archive.views.not_found"
handler500 = "archive.views.server_error"
