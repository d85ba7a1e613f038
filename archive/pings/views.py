"""The receivers: Pingback's XML-RPC server (at /xmlrpc.php, as WordPress) and the Webmention endpoint.
Thin: the checks are in `pingback` and `webmention`, the verification in a task (archive.tasks)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from .. import tasks
from ..clientip import client_ip
from ..models import Comment, Post
from . import pingback, throttle, verification, webmention
from .verification import Mention

XML = "text/xml; charset=UTF-8"
TEXT = "text/plain; charset=utf-8"
FORM_TYPE = "application/x-www-form-urlencoded"
RATE_MESSAGE = "Too many pings from your address; try again later."


def post_only(message: str) -> HttpResponse:
    response = HttpResponse(message + "\n", status=405, content_type=TEXT)
    response["Allow"] = "POST"
    return response


def mention_of(request: HttpRequest, kind: str, source: str, target: str, post: Post) -> Mention:
    return Mention(kind=kind, source=source, target=target, post_id=post.pk, sender_ip=client_ip(request),
                   user_agent=request.META.get("HTTP_USER_AGENT", "")[:255])  # fmt: skip


def ping_now(mention: Mention) -> str:
    """ARCHIVE_PINGBACK_VERIFY_NOW: verify during the call, as WordPress does, so the sender hears fault 16
    or 17; a source that is slow to fail, or a busy host, falls back to the queue."""
    try:
        outcome = verification.verify(mention)
    except (verification.TryLater, verification.HostBusy):
        tasks.queue_verification(mention)
        return f"Pingback from {mention.source} to {mention.target} accepted; it will be verified later."
    fault = pingback.outcome_fault(outcome)
    if fault is not None:
        raise fault
    return f"Pingback from {mention.source} to {mention.target} registered. Keep the web talking! :-)"


@csrf_exempt  # remote blogs have no CSRF token; nothing here acts on a reader's session
@never_cache
def xmlrpc(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return post_only("XML-RPC server accepts POST requests only.")

    def ping(source: str, target: str, post: Post) -> str:
        if not throttle.allow(client_ip(request)):
            raise pingback.Fault(pingback.ACCESS_DENIED, RATE_MESSAGE)
        mention = mention_of(request, Comment.Kind.PINGBACK, source, target, post)
        if settings.ARCHIVE_PINGBACK_VERIFY_NOW:
            return ping_now(mention)
        tasks.queue_verification(mention)
        return f"Pingback from {source} to {target} accepted; it appears once the source is verified."

    body = request.body
    try:
        if len(body) > settings.ARCHIVE_MAX_XMLRPC_BYTES:
            raise pingback.Fault(pingback.INVALID_REQUEST, "server error. the request is too large.")
        result = pingback.answer(pingback.dispatch(pingback.parse(body), request.get_host(), ping))
    except pingback.Fault as fault:
        result = pingback.fault(fault.code, fault.message)
    return HttpResponse(result, content_type=XML)


@csrf_exempt
@never_cache
def webmention_endpoint(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return post_only("Webmention endpoint: POST source and target, form-encoded.")
    if request.content_type not in (FORM_TYPE, "multipart/form-data"):  # the spec's form type; multipart too
        return HttpResponse(f"Send source and target as {FORM_TYPE}.\n", status=400, content_type=TEXT)
    source, target = request.POST.get("source", "").strip(), request.POST.get("target", "").strip()
    try:
        post = webmention.check(source, target, request.get_host())
    except webmention.WebmentionError as exc:
        return HttpResponse(f"{exc}\n", status=400, content_type=TEXT)
    if not throttle.allow(client_ip(request)):
        response = HttpResponse(RATE_MESSAGE + "\n", status=429, content_type=TEXT)
        response["Retry-After"] = str(settings.ARCHIVE_PINGS_WINDOW_SECONDS)
        return response
    tasks.queue_verification(mention_of(request, Comment.Kind.WEBMENTION, source, target, post))
    return HttpResponse("Accepted: the source will be verified, then the mention shown.\n", status=202,
                        content_type=TEXT)  # fmt: skip
