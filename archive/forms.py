"""The "Leave a Reply" form: WordPress's field names, limits and messages, and its own spam trap.

Wiring only: whether the reply is a duplicate, a flood or held for moderation is `policy`'s business.
"""

from __future__ import annotations

import re

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from .models import Subscription

# WordPress's limits, in bytes of UTF-8, as its database columns hold them.
MAX_BYTES = {"author": 245, "email": 100, "url": 200, "comment": 65525}
TOO_LONG = {
    "author": "Your name is too long.",
    "email": "Your email address is too long.",
    "url": "Your URL is too long.",
    "comment": "Your comment is too long.",
}
PARENT_UNAVAILABLE = "The comment you are replying to is not available; your reply was not saved."
CONSENT_FIELD = "wp-comment-cookies-consent"
SUBSCRIBE_FIELD = "subscribe"
SCOPE_FIELD = "subscribe_scope"
SUBSCRIBE_NEEDS_EMAIL = "Please enter your email address to get notifications by email."
PREVIEW_FIELD = "preview"  # the name of the form's "Preview" button: its POST stores nothing
HONEYPOT_FIELD = "hp_homepage"


def byte_limit(name: str):
    def validate(value: str) -> None:
        if len(value.encode("utf-8", "surrogatepass")) > MAX_BYTES[name]:
            raise ValidationError(TOO_LONG[name], code="too_long")

    return validate


LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t]*\n)+")


def normalise_comment(text: str) -> str:
    """A reply as stored, from the reply form and the admin alike. Browsers send a textarea's line breaks
    as CRLF; stored as LF, the same text typed in a browser or sent by a script is the same reply (and the
    duplicate rule sees it so). Blank lines before the text and whitespace after it go, as WordPress trims;
    the first line's indent stays, as Markdown reads it (four spaces start a code block)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return LEADING_BLANK_LINES.sub("", text).rstrip()


class HttpURLField(forms.URLField):
    """A URLField whose one URL check allows http(s) only (the stock one also allows ftp; both together
    would report a `javascript:` address twice)."""

    default_validators = [URLValidator(schemes=["http", "https"])]


class CommentTextForm(forms.Form):
    """The reply's text alone, with the reply form's limits: what a preview renders and an edit replaces."""

    comment = forms.CharField(
        strip=False,  # leading spaces are Markdown (an indented code block); `clean_comment` trims the rest
        validators=[byte_limit("comment")],
        error_messages={"required": "Please type your comment text."},
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "%s")
        super().__init__(*args, **kwargs)

    def clean_comment(self) -> str:
        text = normalise_comment(self.cleaned_data["comment"])
        if not text:
            raise ValidationError(self.fields["comment"].error_messages["required"], code="required")
        return text


class ReplyForm(CommentTextForm):
    """Field names and ids are WordPress's own, so themes' CSS and scripts, and people's habits, still fit."""

    author = forms.CharField(
        required=False,
        validators=[byte_limit("author")],
        error_messages={"required": "Please enter your name."},
    )
    email = forms.EmailField(
        required=False,
        validators=[byte_limit("email")],
        error_messages={"required": "Please enter your email address.",
                        "invalid": "Please enter a valid email address."},
    )  # fmt: skip
    url = HttpURLField(
        required=False,
        assume_scheme="https",
        validators=[byte_limit("url")],
        error_messages={"invalid": "Please enter a web address that starts with http:// or https://."},
    )
    comment_post_ID = forms.IntegerField(widget=forms.HiddenInput)  # WordPress's name
    comment_parent = forms.IntegerField(
        required=False,
        min_value=0,
        widget=forms.HiddenInput,
        error_messages={"invalid": PARENT_UNAVAILABLE, "min_value": PARENT_UNAVAILABLE},
    )
    # A field people never see; programs that fill every field fill it too.
    hp_homepage = forms.CharField(required=False)
    # "Notify me of follow-up replies by email" (off unless ticked; archive/notify.py), and of what.
    subscribe = forms.BooleanField(required=False)
    subscribe_scope = forms.ChoiceField(
        required=False, choices=Subscription.Scope.choices,
        error_messages={"invalid_choice": "Please choose which follow-up comments to be notified of."},
    )  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields[CONSENT_FIELD] = forms.BooleanField(required=False)
        required = settings.ARCHIVE_REQUIRE_NAME_EMAIL
        self.fields["author"].required = required
        self.fields["email"].required = required

    def clean(self):
        cleaned = super().clean()
        if cleaned.get(SUBSCRIBE_FIELD) and "email" in cleaned and not cleaned["email"]:
            self.add_error("email", SUBSCRIBE_NEEDS_EMAIL)
        return cleaned

    @property
    def notify_scope(self) -> str:
        """What the reader asked to be told of by mail: "replies", "all", or "" (nothing; the default)."""
        if not (settings.ARCHIVE_MAIL_ENABLED and self.cleaned_data.get(SUBSCRIBE_FIELD)):
            return ""
        return self.cleaned_data.get(SCOPE_FIELD) or "replies"

    @property
    def remember(self) -> bool:
        return bool(self.cleaned_data.get(CONSENT_FIELD))

    @property
    def is_spam(self) -> bool:
        return bool(self.cleaned_data.get(HONEYPOT_FIELD))

    def value_of(self, name: str) -> str:
        """What the reader typed, for putting back into the form whatever went wrong."""
        value = self.data.get(name, "") if self.is_bound else self.initial.get(name, "")
        return value if isinstance(value, str) else ""
