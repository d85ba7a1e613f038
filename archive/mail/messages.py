"""Each kind of mail, composed from its two plain-text templates (templates/mail/NAME_subject.txt and
NAME.txt, rendered without HTML escaping by the "mail" template engine) at the moment it is sent.

Whatever a commenter typed may reach a header only through `one_line`: a name with CR, LF or any other
control or line-separator character becomes one line, so it can never start a header of its own (and
Django's BadHeaderError, which would refuse the whole mail, never comes up). Commenters' addresses reach
no mail but their own, in its To; moderators get names, URLs and IPs, never an address.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from django.conf import settings
from django.core.mail import EmailMessage
from django.template import engines
from django.urls import reverse

from .. import notify, threads
from ..models import Comment, Subscription
from . import links

MAX_SUBJECT = 200


def one_line(text: str, limit: int | None = None) -> str:
    """`text` as one line of plain characters: controls, format characters and line or paragraph
    separators become spaces, runs of spaces one."""
    flat = "".join(" " if unicodedata.category(ch)[0] == "C" or ch in "\u2028\u2029\x85" else ch for ch in text)
    flat = " ".join(flat.split())
    return flat[: limit - 1] + "…" if limit and len(flat) > limit else flat


def permalink(comment: Comment) -> str:
    return links.absolute(comment.post.get_page_url(threads.page_of(comment)) + f"#comment-{comment.pk}")


def about(comment: Comment) -> dict[str, object]:
    """What every mail about a response says of it, every name flattened to one line."""
    post = comment.post
    return {
        "site_name": one_line(settings.ARCHIVE_SITE_NAME),
        "post_title": one_line(post.title),
        "post_url": links.absolute(post.get_absolute_url()),
        "comment": comment,
        "kind": comment.get_kind_display().lower(),
        "author": one_line(comment.display_author, 100),
        "author_url": one_line(comment.author_url),
        "title": one_line(comment.title),
        "permalink": permalink(comment),
    }


def render(name: str, to: list[str], context: dict[str, object], unsubscribe: str = "") -> EmailMessage:
    engine = engines["mail"]
    subject = one_line(engine.get_template(f"mail/{name}_subject.txt").render(context), MAX_SUBJECT)
    forget_page = links.absolute(reverse("archive:forget"))
    body = engine.get_template(f"mail/{name}.txt").render(
        {**context, "unsubscribe_url": unsubscribe, "forget_page_url": forget_page}
    )
    headers = {"Auto-Submitted": "auto-generated"}  # RFC 3834: no vacation replies to us
    if unsubscribe:  # RFC 2369 and RFC 8058: the mail client's own "Unsubscribe" button, one POST
        headers["List-Unsubscribe"] = f"<{unsubscribe}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return EmailMessage(subject, body, to=to, headers=headers)


def moderator_mail(name: str, comment: Comment, actions: tuple[str, ...]) -> EmailMessage:
    admin = reverse("admin:archive_comment_changelist")
    context = {
        **about(comment),
        "links": [(action, links.moderate_url(comment, action)) for action in actions],
        "expires_days": expires_days(),
        "waiting": Comment.objects.filter(status=Comment.Status.PENDING).count(),
        "admin_url": links.absolute(reverse("admin:archive_comment_change", args=[comment.pk])),
        "moderation_url": links.absolute(f"{admin}?status__exact=pending"),
    }
    return render(name, list(settings.ARCHIVE_MODERATOR_EMAILS), context)


def load_comment(pk: int) -> Comment | None:
    return Comment.objects.select_related("post").filter(pk=pk).first()


def load_subscription(pk: int) -> Subscription | None:
    return Subscription.objects.select_related("post", "comment__post").filter(pk=pk).first()


def held(comment: int) -> EmailMessage | None:
    found = load_comment(comment)
    if found is None or found.status != Comment.Status.PENDING:
        return None  # moderated (or deleted) before the mail went out
    return moderator_mail("held", found, ("approve", "spam", "trash"))


def published(comment: int) -> EmailMessage | None:
    found = load_comment(comment)
    if found is None or not found.is_public:
        return None
    return moderator_mail("published", found, ("spam", "trash"))


def expires_days() -> int:
    return max(1, settings.ARCHIVE_MAIL_LINK_SECONDS // 86400)


def confirm(subscription: int) -> EmailMessage | None:
    found = load_subscription(subscription)
    if found is None or found.confirmed_at is not None:
        return None
    context = {
        **about(found.comment),
        "scope": found.scope,
        "confirm_url": links.confirm_url(found.pk),
        "expires_days": expires_days(),
    }
    return render("confirm", [found.email], context, links.unsubscribe_url(found.key))


def reply(subscription: int, comment: int) -> EmailMessage | None:
    found, answer = load_subscription(subscription), load_comment(comment)
    if found is None or answer is None or not notify.is_public_and_concerned(found, answer):
        return None
    context = {**about(answer), "scope": found.scope, "yours": about(found.comment)}
    return render("reply", [found.email], context, links.unsubscribe_url(found.key))


def forget(email: str) -> EmailMessage | None:
    if not notify.subscriptions_of(email).exists():
        return None
    url = links.forget_url(email)
    context = {"site_name": one_line(settings.ARCHIVE_SITE_NAME), "forget_url": url, "expires_days": expires_days(),
               "count": notify.subscriptions_of(email).count()}  # fmt: skip
    return render("forget", [email], context, url)


COMPOSERS: dict[str, Callable[..., EmailMessage | None]] = {
    "held": held, "published": published, "confirm": confirm, "reply": reply, "forget": forget,
}  # fmt: skip


def compose(mail: notify.Mail) -> EmailMessage | None:
    """The mail as it stands now, or None when there is nothing to say any more."""
    return COMPOSERS[mail.kind](**mail.ids)
