"""Thin views: read the request, hand it to seeds/policy/trackback, choose the template and the status."""

from __future__ import annotations

import base64
import sys
from contextlib import nullcontext
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.paginator import Paginator
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Max
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.http import content_disposition_header, http_date
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from . import avatars, crossorigin, health, markup, notify, policy, readers, search, threads, trackback
from .clientip import client_ip
from .forms import (
    CONSENT_FIELD,
    PARENT_UNAVAILABLE,
    PREVIEW_FIELD,
    SCOPE_FIELD,
    SUBSCRIBE_FIELD,
    CommentTextForm,
    ReplyForm,
)
from .models import Comment, Post
from .pagecache import public_page
from .pings import discovery

POSTS_PER_PAGE = 10  # WordPress's default posts_per_page
INDEX_FIELDS = ("title", "slug", "imported_at", "updated_at", "published_at", "author_name")
CROSS_ORIGIN_MESSAGE = (
    "Your reply was not saved: it was sent from a page of another site. If you wrote it here, send it again."
)


@csrf_exempt  # only GET/HEAD get in: anything else is 405, not a CSRF 403
@require_safe
@public_page
def index(request: HttpRequest, page: int | None = None) -> HttpResponse:
    """The posts, newest published first (seeds, which have no date, after them), ten a page as WordPress
    shows them, each with its public response count; `?s=` searches."""
    terms = search.search_terms(request.GET.get("s", ""))
    posts = Post.objects.with_activity().only(*INDEX_FIELDS)
    posts = search.matching(posts, terms) if terms else posts.order_by(*search.NEWEST_FIRST)
    paginator = Paginator(posts, POSTS_PER_PAGE)
    if page is not None and not 1 <= page <= paginator.num_pages:
        raise Http404("No such page")
    listing = paginator.page(page or 1)
    context = {"posts": listing.object_list, "listing": listing, "terms": terms}
    response = render(request, "archive/index.html", context)
    latest = Post.objects.aggregate(latest=Max("updated_at"))["latest"]
    if latest:
        response["Last-Modified"] = http_date(latest.timestamp())
    return response


@csrf_exempt
@require_safe
@public_page
def post_detail(request: HttpRequest, slug: str, page: int | None = None) -> HttpResponse:
    post = get_object_or_404(Post.objects.without_original(), slug=slug)
    return post_page(request, post, page=page)


def public_comment(post: Post, value: object) -> Comment | None:
    """The public comment of this post that a reply link or `comment_parent` names, or nothing."""
    # ASCII digits only: str.isdigit() is also true for "²", which int() refuses.
    if isinstance(value, int) or (isinstance(value, str) and value.isascii() and value.isdigit()):
        return Comment.objects.public().get_or_none(post=post, pk=int(value))
    return None


def post_page(
    request: HttpRequest,
    post: Post,
    *,
    page: int | None = None,
    form: ReplyForm | None = None,
    status: int = 200,
    notice: str = "",
    preview: str | None = None,
) -> HttpResponse:
    """The article with its responses and the reply form; also the answer to a refused reply, so the
    reader's text is always still in the form, and to a preview (`preview`: the text as it would be stored)."""
    pending = readers.pending_tokens(request)
    try:
        thread_page = threads.thread_page(post, page, pending)
    except ValueError:
        raise Http404("No such comment page") from None
    if form is None:  # `?replytocom=N` is WordPress's reply link for readers without JavaScript
        reply_to = public_comment(post, request.GET.get("replytocom"))
        initial = {"comment_post_ID": post.pk, "comment_parent": reply_to.pk if reply_to else 0}
        remembered = readers.remembered(request)
        form = ReplyForm(initial={**initial, **remembered})
        consent = bool(remembered)
    else:
        reply_to = public_comment(post, form.value_of("comment_parent"))
        consent = bool(form.value_of(CONSENT_FIELD))
    own = readers.own_tokens(request)
    permalink = request.build_absolute_uri(post.get_absolute_url())
    context = {
        "post": post,
        "threads": thread_page,
        "form": form,
        "reply_to": reply_to,
        "notice": notice,
        "page_url": post.get_page_url(page),
        "consent": consent,
        # Called by the template only when the article fragment is not in the cache.
        "trackback_rdf": partial(
            trackback.rdf_block, permalink, request.build_absolute_uri(post.get_trackback_url()), post.title
        ),
        "require_name_email": settings.ARCHIVE_REQUIRE_NAME_EMAIL,
        "mail_enabled": settings.ARCHIVE_MAIL_ENABLED,
        "subscribe": form.value_of(SUBSCRIBE_FIELD),
        "subscribe_scope": form.value_of(SCOPE_FIELD) or "replies",
        "refused": status >= 400,
        "preview": preview,
        # The replies this reader may still edit: their own cookie names them (the page is private then).
        "editable": editable_replies(thread_page, own),
    }
    response = render(request, "archive/post.html", context, status=status)
    discovery.add_headers(response, request, post)
    if status == 429:
        response["Retry-After"] = str(settings.ARCHIVE_COMMENT_FLOOD_SECONDS)
    if status == 200:
        response["Last-Modified"] = http_date(post.updated_at.timestamp())
    return response


@csrf_exempt
@require_safe
def original(request: HttpRequest, slug: str) -> HttpResponse:
    """The seed file's bytes, exactly as archived: BOM, line endings and all."""
    fields = ("original", "sha256", "source_name", "imported_at", "encoding")
    post = get_object_or_404(Post.objects.only(*fields), slug=slug)
    # The charset the bytes were read with: a Windows-1252 seed is served as what it is.
    response = HttpResponse(bytes(post.original), content_type=f"text/plain; charset={post.original_charset}")
    response["Content-Disposition"] = content_disposition_header(False, post.source_name)  # quotes, non-ASCII
    response["Digest"] = "sha-256=" + base64.b64encode(bytes.fromhex(post.sha256)).decode()  # RFC 3230
    response["Last-Modified"] = http_date(post.imported_at.timestamp())
    response["ETag"] = f'"{post.sha256}"'  # the bytes never change without their digest changing
    return response


@csrf_exempt  # no token on the shared page: `crossorigin` checks where the POST comes from instead
@require_POST
@never_cache
def reply(request: HttpRequest) -> HttpResponse:
    """WordPress's wp-comments-post.php: Post/Redirect/Get on success, the page again on any error."""
    post_id = request.POST.get("comment_post_ID", "")
    numeric = post_id.isascii() and post_id.isdigit()
    post = Post.objects.without_original().get_or_none(pk=int(post_id)) if numeric else None
    form = ReplyForm(request.POST)
    if crossorigin.refusal(request):  # before anything else: a forged request learns nothing
        if post is None:
            return csrf_failure(request)
        return post_page(request, post, form=form, status=403, notice=CROSS_ORIGIN_MESSAGE)
    if post is None:
        raise Http404("No such post")
    if not post.comments_open:
        return post_page(request, post, form=form, status=403, notice=policy.COMMENTS_CLOSED_MESSAGE)
    if PREVIEW_FIELD in request.POST:
        return preview_page(request, post)
    if not form.is_valid():
        return post_page(request, post, form=form, status=400)
    parent = None
    if form.cleaned_data.get("comment_parent"):
        parent = public_comment(post, form.cleaned_data["comment_parent"])
        if parent is None:
            form.add_error(None, PARENT_UNAVAILABLE)
            return post_page(request, post, form=form, status=400)
    data = form.cleaned_data
    candidate = policy.Candidate(
        post=post,
        parent=parent,
        author=data.get("author", ""),
        email=data.get("email", ""),
        url=data.get("url", ""),
        content=data["comment"],
        ip_address=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
        is_spam=form.is_spam,
    )
    # A subscription is stored in the comment's transaction, so the comment's announcement finds it; without
    # one, accept's own transaction is enough (and shorter: on SQLite it holds the write lock from its start).
    try:
        with transaction.atomic() if form.notify_scope else nullcontext():
            comment = policy.accept(candidate)
            if form.notify_scope:
                notify.subscribe(comment, form.notify_scope)
    except policy.Rejected as refusal:
        return post_page(request, post, form=form, status=refusal.status, notice=refusal.message)
    response = to_comment(request, comment)
    if comment.author_token and comment.status != Comment.Status.SPAM:
        readers.add_own(request, response, comment.author_token)
    if form.remember:
        readers.remember(response, candidate.author, candidate.email, candidate.url)
    else:
        readers.forget(response)
    return response


def to_comment(request: HttpRequest, comment: Comment) -> HttpResponseRedirect:
    """Post/Redirect/Get after a reply is stored or edited: to its page and anchor, and, while it is held,
    with its token added to the reader's cookie so that they still see it there."""
    pending = readers.pending_tokens(request) | {comment.pending_token}  # "" (not held) names nothing
    location = comment.post.get_page_url(threads.page_of(comment, pending)) + f"#comment-{comment.pk}"
    response = HttpResponseRedirect(location)
    if comment.status == Comment.Status.PENDING:
        readers.add_pending(request, response, comment.pending_token)
    return response


def preview_page(request: HttpRequest, post: Post) -> HttpResponse:
    """The "Preview" button without JavaScript: the page again, the text rendered above the form as it would
    be stored and every field as typed. Nothing is stored, so no rule but the text's own runs (a preview is
    neither a flood nor a duplicate), and the other fields are not judged until the reply is posted."""
    text = CommentTextForm(request.POST)
    typed = {name: request.POST.get(name, "") for name in ReplyForm.base_fields}
    typed[CONSENT_FIELD] = request.POST.get(CONSENT_FIELD, "")
    form = ReplyForm(initial=typed)  # unbound: the fields show what was typed, with no error marks
    if not text.is_valid():
        return post_page(request, post, form=form, status=400, notice=text.errors["comment"][0])
    return post_page(request, post, form=form, preview=markup.render_comment(text.cleaned_data["comment"]))


@csrf_exempt  # as `reply`: the origin is checked instead
@require_POST
@never_cache
def reply_preview(request: HttpRequest) -> HttpResponse:
    """The "Preview" button with JavaScript: only the sanitised HTML of the text, for the script to insert."""
    if crossorigin.refusal(request):
        return HttpResponse(CROSS_ORIGIN_MESSAGE, status=403, content_type="text/plain; charset=utf-8")
    text = CommentTextForm(request.POST)
    if not text.is_valid():
        return HttpResponse(text.errors["comment"][0], status=400, content_type="text/plain; charset=utf-8")
    return HttpResponse(markup.render_comment(text.cleaned_data["comment"]), content_type="text/html; charset=utf-8")


def edit_window_start() -> datetime:
    """Replies written since then may still be edited by their authors."""
    return timezone.now() - timedelta(minutes=settings.ARCHIVE_EDIT_MINUTES)


def editable_replies(thread_page: threads.ThreadPage, own: frozenset[str]) -> set[int]:
    """The replies on this page that this reader may still edit (their cookie names them; the page is
    private then). Readers without that cookie, nearly all, cost nothing here."""
    if not own:
        return set()
    since = edit_window_start()
    return {c.pk for c in threads.comments_of(thread_page) if c.editable_by(own, since)}


def own_reply(request: HttpRequest, pk: int) -> Comment | None:
    """The reply `pk` if this browser wrote it and its edit window is open; None otherwise (404 if none)."""
    comment = get_object_or_404(Comment.objects.select_related("post"), pk=pk)
    return comment if comment.editable_by(readers.own_tokens(request), edit_window_start()) else None


def change_closed(request: HttpRequest, text: str = "") -> HttpResponse:
    """403: not this browser's reply, or its window has passed. Any text typed is handed back."""
    context = {"text": text, "minutes": settings.ARCHIVE_EDIT_MINUTES}
    return render(request, "archive/change_closed.html", context, status=403)


@csrf_exempt  # the origin is checked instead, as for `reply`
@require_http_methods(["GET", "HEAD", "POST"])
@never_cache
def edit_reply(request: HttpRequest, pk: int) -> HttpResponse:
    """The author's edit form, prefilled with their Markdown; a POST runs the rules again (policy.revise)."""
    typed = request.POST.get("comment", "") if request.method == "POST" else ""
    if request.method == "POST" and crossorigin.refusal(request):
        return change_closed(request, typed)
    comment = own_reply(request, pk)
    if comment is None:
        return change_closed(request, typed)
    form, notice, status = CommentTextForm(initial={"comment": comment.content}), "", 200
    if request.method == "POST":
        form = CommentTextForm(request.POST)
        if form.is_valid():
            try:
                return to_comment(request, policy.revise(comment, form.cleaned_data["comment"]))
            except policy.Rejected as refusal:
                notice, status = refusal.message, refusal.status
        else:
            status = 400
    context = {"comment": comment, "form": form, "notice": notice, "until": comment.created_at + timedelta(
        minutes=settings.ARCHIVE_EDIT_MINUTES)}
    return render(request, "archive/edit_reply.html", context, status=status)


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
@never_cache
def delete_reply(request: HttpRequest, pk: int) -> HttpResponse:
    """A confirmation page; its POST moves the reply to the trash, where moderators still see it."""
    if request.method == "POST" and crossorigin.refusal(request):
        return change_closed(request)
    comment = own_reply(request, pk)
    if comment is None:
        return change_closed(request)
    if request.method != "POST":
        return render(request, "archive/delete_reply.html", {"comment": comment})
    comment.status = Comment.Status.TRASH
    with transaction.atomic():
        comment.save(update_fields=["status", "modified_at"])  # the page cache moves on (signals.py)
    return HttpResponseRedirect(comment.post.get_absolute_url() + "#comments")


@csrf_exempt
@require_safe
def avatar(request: HttpRequest, digest: str) -> HttpResponse:
    """A generated avatar: the digest names it, so it never changes (immutable for a year)."""
    if not avatars.DIGEST.fullmatch(digest):
        raise Http404("No such avatar")
    response = HttpResponse(avatars.identicon_svg(digest), content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


@csrf_exempt
@require_safe
def gravatar(request: HttpRequest, token: str) -> HttpResponse:
    """The Gravatar proxy (ARCHIVE_AVATARS=gravatar): a picture this site fetched, kept a day."""
    picture = avatars.gravatar_picture(token) if settings.ARCHIVE_AVATARS == "gravatar" else None
    if picture is None:
        raise Http404("No such avatar")
    response = HttpResponse(picture.body, content_type=picture.content_type)
    response["Cache-Control"] = f"public, max-age={avatars.GRAVATAR_SECONDS}"
    return response


def xml_answer(message: str | None = None, status: int = 200) -> HttpResponse:
    return HttpResponse(trackback.response_xml(message), content_type="text/xml; charset=utf-8", status=status)


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def trackback_ping(request: HttpRequest, slug: str) -> HttpResponse:
    """The post's TrackBack ping URL. GET and HEAD store nothing and go to the post, as in WordPress."""
    post = Post.objects.without_original().get_or_none(slug=slug)
    if post is None:
        return xml_answer("There is no post at this TrackBack URL.", status=404)
    if request.method != "POST":
        return HttpResponseRedirect(post.get_absolute_url())
    try:
        ping = trackback.decode(request.body, request.META.get("CONTENT_TYPE", ""))
    except trackback.PingError as exc:
        return xml_answer(str(exc))
    candidate = policy.Candidate(
        post=post,
        kind=Comment.Kind.TRACKBACK,
        author=ping.blog_name,
        url=ping.url,
        title=ping.title,
        content=ping.excerpt,
        blog_name=ping.blog_name,
        ip_address=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )
    try:
        policy.accept(candidate)
    except policy.Rejected as refusal:
        return xml_answer(refusal.message)
    return xml_answer()


@csrf_exempt
@require_safe
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """200 when the database and the cache answer, 503 (with what failed) when either does not."""
    failed = health.problems()
    response = HttpResponse("\n".join(failed or ["ok"]) + "\n", content_type="text/plain; charset=utf-8",
                            status=503 if failed else 200)  # fmt: skip
    if failed:
        response["Retry-After"] = "5"
    return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """403 for a missing or stale CSRF token (the admin's forms) or a cross-site reply to no post, with any
    text handed back so it is not lost."""
    text = request.POST.get("comment", "") if request.method == "POST" else ""
    return render(request, "archive/csrf_failure.html", {"text": text}, status=403)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


DATABASE_DOWN = (OperationalError, InterfaceError)
DATABASE_RETRY_SECONDS = 30


def server_error(request: HttpRequest) -> HttpResponse:
    """500, or 503 with Retry-After while the database cannot be reached (a restart, a failover): the
    reader is told to come back, in WordPress's words, and a reply's text is handed back, never lost. The
    page reads nothing from the database; the next request connects again by itself."""
    if isinstance(sys.exc_info()[1], DATABASE_DOWN):
        text = request.POST.get("comment", "") if request.method == "POST" else ""
        response = render(request, "503.html", {"text": text}, status=503)
        response["Retry-After"] = str(DATABASE_RETRY_SECONDS)
        return response
    return render(request, "500.html", status=500)
