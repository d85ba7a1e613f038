from django.contrib import admin
from django.urls import include, path

from . import feeds, loginlimit, sitemaps, views
from .mail import views as mail_views
from .pagecache import public_page
from .pings import views as pings_views

archive_patterns = [
    path("", views.index, name="index"),
    path("page/<int:page>/", views.index, name="index-page"),  # WordPress's paging of the front page
    # Before the post patterns: "feed" and "comments" are reserved slugs (archive/importing.py).
    path("feed/", public_page(feeds.PostsFeed()), name="feed"),
    path("feed/atom/", public_page(feeds.PostsAtomFeed()), name="feed-atom"),
    path("comments/feed/", public_page(feeds.CommentsFeed()), name="comments-feed"),
    path("comments/feed/atom/", public_page(feeds.CommentsAtomFeed()), name="comments-feed-atom"),
    path("sitemap.xml", sitemaps.sitemap_xml, name="sitemap"),
    path("robots.txt", sitemaps.robots_txt, name="robots"),
    path("healthz", views.healthz, name="healthz"),
    path("comments/post/", views.reply, name="reply"),
    # The pages of the links in mails (archive/mail/views.py): personal, never cached.
    path("comments/moderate/<str:token>/", mail_views.moderate, name="moderate"),
    path("comments/subscription/<str:token>/", mail_views.confirm_subscription, name="subscription-confirm"),
    path("comments/unsubscribe/<str:key>/", mail_views.unsubscribe, name="unsubscribe"),
    path("comments/forget/", mail_views.forget, name="forget"),
    path("comments/forget/<str:token>/", mail_views.forget_confirm, name="forget-confirm"),
    path("avatars/<str:digest>.svg", views.avatar, name="avatar"),
    path("avatars/gravatar/<str:token>/", views.gravatar, name="gravatar"),
    path("comments/preview/", views.reply_preview, name="reply-preview"),
    path("comments/<int:pk>/edit/", views.edit_reply, name="reply-edit"),
    path("comments/<int:pk>/delete/", views.delete_reply, name="reply-delete"),
    path("xmlrpc.php", pings_views.xmlrpc, name="pingback"),
    path("webmention/", pings_views.webmention_endpoint, name="webmention"),
    path("<slug:slug>/", views.post_detail, name="post"),
    path("<slug:slug>/comment-page-<int:page>/", views.post_detail, name="post-comments"),
    path("<slug:slug>/original.txt", views.original, name="original"),
    path("<slug:slug>/trackback/", views.trackback_ping, name="trackback"),
    path("<slug:slug>/feed/", public_page(feeds.PostCommentsFeed()), name="post-comments-feed"),
    path("<slug:slug>/feed/atom/", public_page(feeds.PostCommentsAtomFeed()), name="post-comments-feed-atom"),
]

urlpatterns = [
    # The admin's login, behind the failed-attempt brake (archive/loginlimit.py); it must come first.
    path("admin/login/", loginlimit.admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("", include((archive_patterns, "archive"))),
]

handler404 = "archive.views.not_found"
handler500 = "archive.views.server_error"
