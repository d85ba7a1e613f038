"""Which mail goes to whom. Plain functions over the models; the mails themselves are composed in
archive/mail/messages.py and sent by archive/tasks.py, never during a request.

- A response stored and **held** (reply or ping): one mail to ARCHIVE_MODERATOR_EMAILS, with signed links to
  approve, spam or trash it. Stored **public**: the same moderators are told only with ARCHIVE_NOTIFY_PUBLISHED
  (WordPress's `comments_notify`), with links to spam or trash it.
- A response becoming **public** (at once, or approved later): each confirmed subscription it concerns gets
  one mail (a reply to the subscriber's comment, or any response on a post they follow, never their own), and
  the subscriptions its own author asked for get their confirmation mail (double opt-in; not before the
  comment is public, so a held spam reply cannot make us mail a stranger).
- An address gets at most one mail per response, to itself alone: no mail carries another commenter's
  address.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from .models import Comment, Subscription

STORED = "stored"
PUBLISHED = "published"
# More unconfirmed subscriptions than this for one address (within a link's life) get no new mail: typing a
# stranger's address into the form again and again cannot flood them with confirmation requests.
MAX_UNCONFIRMED = 3


@dataclass(frozen=True)
class Mail:
    """One mail to send: its kind (the template's name) and the ids of what it is about. Only ids travel
    through the queue; the task reads the rows again, so a mail about something undone since is not sent."""

    kind: str
    ids: dict[str, int | str] = field(default_factory=dict)


def mails_for(comment: Comment, event: str) -> list[Mail]:
    """Every mail that `comment` being stored (STORED) or made public later (PUBLISHED) calls for."""
    mails = []
    if event == STORED and settings.ARCHIVE_MODERATOR_EMAILS:
        if comment.status == Comment.Status.PENDING:
            mails.append(Mail("held", {"comment": comment.pk}))
        elif comment.is_public and settings.ARCHIVE_NOTIFY_PUBLISHED:
            mails.append(Mail("published", {"comment": comment.pk}))
    if comment.is_public:
        unconfirmed = comment.subscriptions.filter(confirmed_at=None).values_list("pk", flat=True)
        mails += [Mail("confirm", {"subscription": pk}) for pk in unconfirmed]
        mails += [Mail("reply", {"subscription": pk, "comment": comment.pk}) for pk in subscribers(comment)]
    return mails


def concerned(response: Comment) -> QuerySet[Subscription]:
    """The confirmed subscriptions a public response concerns: a reply to their comment, or anything on a
    post followed whole. Not the response's own author, nor the subscription the response itself made."""
    subscriptions = Subscription.objects.filter(post_id=response.post_id).exclude(confirmed_at=None)
    subscriptions = subscriptions.filter(
        Q(scope=Subscription.Scope.ALL) | Q(scope=Subscription.Scope.REPLIES, comment_id=response.parent_id)
    ).exclude(comment_id=response.pk)
    if response.author_email:
        subscriptions = subscriptions.exclude(email=response.author_email.lower())
    return subscriptions


def subscribers(response: Comment) -> list[int]:
    """One subscription per address that `response` concerns (a reply to theirs before a whole post's)."""
    if response.is_reaction:  # a like or repost is a name in a list, not something to read
        return []
    chosen: dict[str, int] = {}
    for pk, email, scope in concerned(response).values_list("pk", "email", "scope"):
        if email not in chosen or scope == Subscription.Scope.REPLIES:
            chosen[email] = pk
    return sorted(chosen.values())


def is_public_and_concerned(subscription: Subscription, response: Comment) -> bool:
    """Still true when the mail is sent? (Unsubscribed, spammed or made private since: no mail.)"""
    return response.is_public and concerned(response).filter(pk=subscription.pk).exists()


def links_alive_since() -> datetime:
    """Links in mails sent since then still work (ARCHIVE_MAIL_LINK_SECONDS): a confirmation asked for
    earlier can no longer be given."""
    return timezone.now() - timedelta(seconds=settings.ARCHIVE_MAIL_LINK_SECONDS)


def subscribe(comment: Comment, scope: str) -> Subscription | None:
    """The box on the form was ticked: an unconfirmed subscription for the comment's author, or None when
    there is no address, the comment is spam, or the address has too many unconfirmed ones already."""
    email = comment.author_email.lower()
    if not email or comment.status in (Comment.Status.SPAM, Comment.Status.TRASH):
        return None
    waiting = Subscription.objects.filter(email=email, confirmed_at=None, created_at__gte=links_alive_since())
    if waiting.count() >= MAX_UNCONFIRMED:
        return None
    return Subscription.objects.create(post_id=comment.post_id, comment=comment, email=email, scope=scope)


def confirm(subscription: Subscription) -> None:
    if subscription.confirmed_at is None:
        subscription.confirmed_at = timezone.now()
        subscription.save(update_fields=["confirmed_at"])


def unsubscribe(key: str) -> int:
    """Delete the subscription this unsubscribe key names; how many went (0: it was gone already)."""
    return Subscription.objects.filter(key=key).delete()[0]


def subscriptions_of(email: str) -> QuerySet[Subscription]:
    return Subscription.objects.filter(email=email.strip().lower())


def forget(email: str) -> int:
    """Delete every subscription of an address ("forget me"); how many went."""
    return subscriptions_of(email).delete()[0]


def erase_stale() -> int:
    """Delete subscriptions never confirmed while their link lived; how many went (erase_commenter_data)."""
    return Subscription.objects.filter(confirmed_at=None, created_at__lt=links_alive_since()).delete()[0]
