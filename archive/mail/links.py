"""The signed links mails carry, and what they name once checked. Django's signing (HMAC of SECRET_KEY,
a timestamp inside): a link cannot be forged, and it expires after ARCHIVE_MAIL_LINK_SECONDS.

A moderation link also signs the response's status and last change: acting on it changes both, so every
link of that mail is dead afterwards ("works once"), as is any link of a response changed since.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

from ..models import Comment

MODERATE_SALT = "archive.mail.moderate"
CONFIRM_SALT = "archive.mail.confirm"
FORGET_SALT = "archive.mail.forget"
# The action each link may take, and the status it moves the response to.
ACTIONS = {"approve": Comment.Status.APPROVED, "spam": Comment.Status.SPAM, "trash": Comment.Status.TRASH}


class Expired(Exception):
    """A genuine link, too old."""


class Invalid(Exception):
    """Not a link of ours (or garbled in the mail)."""


def absolute(path: str) -> str:
    return settings.ARCHIVE_BASE_URL + path


def _load(token: str, salt: str, expected: type = object) -> object:
    """What a link of ours signed under `salt`, if it is of the `expected` type; Expired or Invalid if not."""
    try:
        value = signing.loads(token, salt=salt, max_age=settings.ARCHIVE_MAIL_LINK_SECONDS)
    except signing.SignatureExpired:
        raise Expired from None
    except signing.BadSignature:
        raise Invalid from None
    if not isinstance(value, expected):
        raise Invalid
    return value


def state(comment: Comment) -> str:
    """What a moderation link is valid for: this status, at this last change."""
    return f"{comment.status}@{comment.modified_at.timestamp():.6f}"


def moderate_url(comment: Comment, action: str) -> str:
    token = signing.dumps([comment.pk, action, state(comment)], salt=MODERATE_SALT)
    return absolute(reverse("archive:moderate", args=[token]))


@dataclass
class Moderation:
    comment: Comment
    action: str
    current: bool  # False once anything (this link, another, the admin) has changed the response

    @property
    def status(self) -> str:
        return ACTIONS[self.action]


def moderation(token: str) -> Moderation:
    """The response and action a moderation link names; Invalid also when the response is gone."""
    value = _load(token, MODERATE_SALT, list)
    if not (len(value) == 3 and value[1] in ACTIONS and isinstance(value[0], int)):
        raise Invalid
    comment = Comment.objects.select_related("post").filter(pk=value[0]).first()
    if comment is None:
        raise Invalid
    return Moderation(comment, value[1], state(comment) == value[2])


def confirm_url(subscription_id: int) -> str:
    return absolute(reverse("archive:subscription-confirm", args=[signing.dumps(subscription_id, salt=CONFIRM_SALT)]))


def confirmed_id(token: str) -> int:
    return _load(token, CONFIRM_SALT, int)


def unsubscribe_url(key: str) -> str:
    """Not signed and never expiring: the subscription's own random key, dead once it is deleted."""
    return absolute(reverse("archive:unsubscribe", args=[key]))


def forget_url(email: str) -> str:
    return absolute(reverse("archive:forget-confirm", args=[signing.dumps(email, salt=FORGET_SALT)]))


def forgotten_email(token: str) -> str:
    return _load(token, FORGET_SALT, str)
