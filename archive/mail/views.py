"""The pages the links in mails open. Every link first shows a page and acts only on its button's POST:
mail scanners and link previews follow links (GET), they do not submit forms. The pages are personal and
secret (the token is in the URL): never cached, never indexed, no Referer sent from them.

The moderation, confirmation and "forget me" form POSTs pass the same tokenless cross-origin check as the
reply form (archive/crossorigin.py). The unsubscribe and erase links do not: RFC 8058 has mail clients POST
`List-Unsubscribe=One-Click` to them from anywhere, and their secret token is all the protection they need.
"""

from __future__ import annotations

import hashlib
from functools import wraps

from django import forms
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.defaultfilters import pluralize
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .. import crossorigin, moderation, notify, tasks
from ..models import Comment, Subscription
from . import links
from .messages import expires_days

CROSS_ORIGIN = "Nothing was done: the form was sent from a page of another site. Press the button here again."
FORGET_THROTTLE_SECONDS = 3600  # one "forget me" mail per address an hour, however often the form is sent
SCOPE_WORDS = {Subscription.Scope.REPLIES: "replies to your comment", Subscription.Scope.ALL: "all new comments"}
ACTION_WORDS = {
    "approve": ("Approve", "Approved", "It is public now."),
    "spam": ("Mark as spam", "Marked as spam", "It is hidden from readers and kept with the spam."),
    "trash": ("Move to trash", "Moved to the trash", "It is hidden from readers."),
}


def mail_page(view):
    """GET, HEAD and POST only; never cached (Cache-Control private, no-store), noindex, no Referer."""

    @csrf_exempt  # no token in these pages: crossorigin.refusal guards the POSTs that need guarding
    @require_http_methods(["GET", "HEAD", "POST"])
    @never_cache
    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["X-Robots-Tag"] = "noindex, nofollow"
        response["Referrer-Policy"] = "no-referrer"
        return response

    return wrapper


def page(request: HttpRequest, title: str, status: int = 200, **context: object) -> HttpResponse:
    return render(request, "archive/mail_action.html", {"title": title, **context}, status=status)


def dead_link(request: HttpRequest, error: Exception) -> HttpResponse:
    if isinstance(error, links.Expired):
        days = expires_days()
        message = f"Links in our mails work for {days} day{pluralize(days)}; this one is older."
        return page(request, "This link has expired", 410, message=message)
    return page(request, "This link is not valid", 404,
                message="It may have been cut short in the mail, or what it named no longer exists.")  # fmt: skip


@mail_page
def moderate(request: HttpRequest, token: str) -> HttpResponse:
    """A moderator's one-click link: the response and one button; the POST approves, spams or trashes it."""
    try:
        found = links.moderation(token)
    except (links.Expired, links.Invalid) as error:
        return dead_link(request, error)
    comment, (button, done, outcome) = found.comment, ACTION_WORDS[found.action]
    context = {"comment": comment, "post": comment.post}
    if not found.current:
        return page(request, "This link has been used", 410, **context,
                    message=f"The {comment.get_kind_display().lower()} has been moderated since this mail was sent: "
                            f"it is now {comment.get_status_display().lower()}.")  # fmt: skip
    if request.method == "POST":
        if crossorigin.refusal(request):
            return page(request, f"{button}?", 403, **context, notice=CROSS_ORIGIN, button=button)
        moderation.set_status(Comment.objects.filter(pk=comment.pk), found.status)
        comment.refresh_from_db()
        return page(request, done, **context, message=f"{done}: {outcome}")
    return page(request, f"{button}?", **context, button=button,
                message=f"{button} this {comment.get_kind_display().lower()} on “{comment.post.title}”?")  # fmt: skip


@mail_page
def confirm_subscription(request: HttpRequest, token: str) -> HttpResponse:
    """Double opt-in: the link of the confirmation mail, and its button."""
    try:
        subscription = Subscription.objects.select_related("post").filter(pk=links.confirmed_id(token)).first()
    except (links.Expired, links.Invalid) as error:
        return dead_link(request, error)
    if subscription is None:
        return dead_link(request, links.Invalid())
    what = SCOPE_WORDS[subscription.scope]
    context = {"post": subscription.post, "subscription": subscription}
    if subscription.confirmed_at is not None:
        return page(request, "Already confirmed", **context, message=f"You get mails about {what}.")
    if request.method == "POST":
        if crossorigin.refusal(request):
            return page(request, "Confirm your notifications", 403, **context, notice=CROSS_ORIGIN, button="Confirm")
        notify.confirm(subscription)
        message = f"From now on you get a mail about {what}. Every mail has a link to stop them."
        return page(request, "Confirmed", **context, message=message)
    return page(request, "Confirm your notifications", **context, button="Confirm",
                message=f"Get a mail about {what} on “{subscription.post.title}”?")  # fmt: skip


@mail_page
def unsubscribe(request: HttpRequest, key: str) -> HttpResponse:
    """The unsubscribe link of every commenter's mail, and the target of RFC 8058's one-click POST."""
    if request.method == "POST":
        notify.unsubscribe(key)
        return page(request, "Unsubscribed", message="You get no more mails about this.")
    subscription = Subscription.objects.select_related("post").filter(key=key).first()
    if subscription is None:
        return page(request, "Not subscribed", 404, message="No mail is sent with this link (any more).")
    return page(request, "Stop these mails?", post=subscription.post, subscription=subscription, button="Unsubscribe",
                message=f"Stop the mails about {SCOPE_WORDS[subscription.scope]} "
                        f"on “{subscription.post.title}”?")  # fmt: skip


class ForgetForm(forms.Form):
    email = forms.EmailField(max_length=100, error_messages={
        "required": "Please enter your email address.", "invalid": "Please enter a valid email address."})  # fmt: skip


def address_key(email: str) -> str:
    return "archive:forget:" + hashlib.sha256(email.encode()).hexdigest()


@mail_page
def forget(request: HttpRequest) -> HttpResponse:
    """"Forget me": an address typed here gets a mail with a link that erases its subscriptions. The page
    says the same whether or not the address has any, so it tells nobody who is subscribed."""
    form = ForgetForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if crossorigin.refusal(request):
            return render(request, "archive/forget.html", {"form": form, "notice": CROSS_ORIGIN}, status=403)
        if not form.is_valid():
            return render(request, "archive/forget.html", {"form": form}, status=400)
        email = form.cleaned_data["email"].lower()
        # With Redis out (archive/rediscache.py) `add` stores nothing and says False: the mail goes anyway,
        # unthrottled, rather than the page saying "sent" for a mail that never leaves.
        first = cache.add(address_key(email), 1, FORGET_THROTTLE_SECONDS) or getattr(cache, "unavailable", None)
        if settings.ARCHIVE_MAIL_ENABLED and first:
            tasks.queue_mail(notify.Mail("forget", {"email": email}))
        return render(request, "archive/forget.html", {"sent_to": email})
    return render(request, "archive/forget.html", {"form": form})


@mail_page
def forget_confirm(request: HttpRequest, token: str) -> HttpResponse:
    try:
        email = links.forgotten_email(token)
    except (links.Expired, links.Invalid) as error:
        return dead_link(request, error)
    if request.method == "POST":
        erased = notify.forget(email)
        return page(request, "Forgotten", message=f"{erased} notification{pluralize(erased)} of "
                                                   f"{email} erased. You get no more mails from us.")  # fmt: skip
    count = notify.subscriptions_of(email).count()
    return page(request, "Erase your notifications?", button="Erase",
                message=f"Erase the {count} notification{pluralize(count)} of {email}?")  # fmt: skip
