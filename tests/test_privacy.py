"""Privacy: commenters' IP addresses and user agents are erased after ARCHIVE_KEEP_IP_DAYS, and their email
addresses (and IPs, and user agents) never appear on a public page — only the admin shows them."""

from __future__ import annotations

import hashlib
import itertools
from datetime import timedelta
from io import StringIO
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from archive.models import Comment, Post

_serial = itertools.count(1)


def make_comment(post: Post, *, days_old: float = 0, **fields) -> Comment:
    n = next(_serial)
    values = {
        "author": f"Commenter {n}",
        "author_email": f"commenter{n}@example.net",
        "content": f"Words number {n}",
        "content_html": f"<p>Words number {n}</p>",
        "status": Comment.Status.APPROVED,
        "ip_address": f"203.0.113.{n % 250}",
        "user_agent": f"SecretAgent/{n}.0",
        "dedupe_key": f"privacy-{n}",
        "created_at": timezone.now() - timedelta(days=days_old),
    }
    values.update(fields)
    return Comment.objects.create(post=post, **values)


def erase(*args: str) -> str:
    out = StringIO()
    call_command("erase_commenter_data", *args, stdout=out)
    return out.getvalue()


# --- erase_commenter_data -------------------------------------------------------------------------------


def test_old_ip_addresses_and_user_agents_are_erased(post, settings):
    settings.ARCHIVE_KEEP_IP_DAYS = 30
    old = [make_comment(post, days_old=400), make_comment(post, days_old=31, kind=Comment.Kind.TRACKBACK)]
    recent = [make_comment(post, days_old=29), make_comment(post)]
    before = {c.pk: c for c in Comment.objects.all()}

    output = erase()

    assert "2 response(s)" in output and "30 day(s)" in output
    for comment in Comment.objects.all():
        kept = before[comment.pk]
        if comment.pk in {c.pk for c in old}:
            assert (comment.ip_address, comment.user_agent) == (None, "")
        else:
            assert comment.pk in {c.pk for c in recent}
            assert (comment.ip_address, comment.user_agent) == (kept.ip_address, kept.user_agent)
        # Nothing else changes, not even the modification time.
        for field in ("author", "author_email", "content", "status", "created_at", "modified_at", "dedupe_key"):
            assert getattr(comment, field) == getattr(kept, field), field


def test_it_is_one_update_statement(post):
    for days in (100, 200, 300, 60, 45):
        make_comment(post, days_old=days)
    with CaptureQueriesContext(connection) as queries:
        output = erase()
    assert "5 response(s)" in output
    # The rest deletes subscriptions never confirmed (archive/notify.py), in a table of their own.
    statements = [q["sql"] for q in queries.captured_queries if "archive_subscription" not in q["sql"]]
    assert len(statements) == 1, statements
    assert statements[0].lstrip().upper().startswith("UPDATE")


def test_already_erased_rows_are_not_counted_again(post):
    make_comment(post, days_old=90)
    make_comment(post, days_old=90, ip_address=None, user_agent="")
    make_comment(post, days_old=90, ip_address=None)  # a user agent alone is still erased
    assert "2 response(s)" in erase()
    assert "0 response(s)" in erase()
    assert not Comment.objects.exclude(ip_address=None).exists()
    assert not Comment.objects.exclude(user_agent="").exists()


def test_the_setting_and_the_option_choose_the_age(post, settings):
    ten, twenty = make_comment(post, days_old=10), make_comment(post, days_old=20)
    settings.ARCHIVE_KEEP_IP_DAYS = 15
    assert "1 response(s)" in erase()
    ten.refresh_from_db()
    twenty.refresh_from_db()
    assert ten.ip_address and twenty.ip_address is None
    assert "1 response(s)" in erase("--days", "5")
    ten.refresh_from_db()
    assert ten.ip_address is None


def test_quiet_for_cron(post):
    make_comment(post, days_old=90)
    assert erase("--verbosity", "0") == ""
    assert not Comment.objects.exclude(ip_address=None).exists()


# --- No email on a public page --------------------------------------------------------------------------


def traces(value: str) -> list[str]:
    """The value as it could leak: itself, its HTML and URL escapes, and the hashes Gravatar-style avatars
    are made of (an MD5 or SHA-256 of an email identifies it as surely as the address)."""
    lowered = value.strip().lower()
    return [
        value,
        lowered,
        quote(value),
        value.replace("@", "&#64;"),
        value.replace("@", "&#x40;"),
        hashlib.md5(lowered.encode()).hexdigest(),  # what Gravatar uses
        hashlib.sha256(lowered.encode()).hexdigest(),
    ]


def assert_nothing_personal(body: bytes, comments: list[Comment], where: str) -> None:
    text = body.decode("utf-8", "replace")
    for comment in comments:
        for secret in (comment.author_email, comment.ip_address, comment.user_agent):
            if secret:
                for trace in traces(secret):
                    assert trace not in text, f"{trace!r} ({secret}) appears on {where}"


@pytest.fixture
def crowd(post, settings) -> list[Comment]:
    """Responses in every state and kind, threaded, over several comment pages."""
    settings.ARCHIVE_COMMENTS_PER_PAGE = 2
    approved = [make_comment(post, days_old=5 - n) for n in range(5)]
    reply = make_comment(post, parent=approved[0], thread=approved[0], author_email="Reply.Person@Example.NET")
    others = [
        make_comment(post, status=Comment.Status.PENDING),
        make_comment(post, status=Comment.Status.SPAM),
        make_comment(post, status=Comment.Status.TRASH),
        make_comment(
            post,
            kind=Comment.Kind.TRACKBACK,
            author_email="",
            author_url="https://blog.example/",
            title="A ping",
            blog_name="A blog",
        ),
    ]
    return [*approved, reply, *others]


def public_urls(post: Post, first: Comment) -> list[str]:
    return [
        "/",
        post.get_absolute_url(),
        f"{post.get_absolute_url()}?replytocom={first.pk}",
        "/" + post.slug + "/comment-page-1/",
        "/" + post.slug + "/comment-page-2/",
        post.get_original_url(),
        "/no-such-post/",
    ]


def test_no_email_ip_or_user_agent_on_any_public_page(post, crowd):
    first = crowd[0]
    pages = 0
    for url in public_urls(post, first):
        for reader in (Client(), Client()):  # the second reader is served from the page cache
            response = reader.get(url)
            assert response.status_code == (404 if "no-such" in url else 200), (url, response.status_code)
            assert_nothing_personal(response.content, crowd, url)
            pages += 1
    # The responses really are on the pages checked: the test looks where the addresses would be.
    article = Client().get(post.get_absolute_url()).content.decode()
    page1 = Client().get(f"/{post.slug}/comment-page-1/").content.decode()
    assert first.author in page1 and crowd[4].author in article
    assert pages == 2 * len(public_urls(post, first))


def test_no_email_on_the_pages_answering_a_reply(post, crowd, settings):
    """The error page, the duplicate page and the page after a held reply show the sender's own text back,
    but nobody else's address, and not even the sender's own unless they asked to be remembered."""
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 0
    reader = Client(enforce_csrf_checks=True)
    reader.get(post.get_absolute_url())
    mine = {"author": "Dee", "email": "dee@example.org", "url": "",
            "comment_post_ID": post.pk, "comment_parent": 0}  # fmt: skip
    error_page = reader.post("/comments/post/", {**mine, "comment": ""})
    assert error_page.status_code == 400
    assert_nothing_personal(error_page.content, crowd, "the form error page")
    stored = reader.post("/comments/post/", {**mine, "comment": "Held for moderation"})
    assert stored.status_code == 302
    own_view = reader.get(stored["Location"])
    assert b"Held for moderation" in own_view.content
    assert_nothing_personal(own_view.content, [*crowd, Comment.objects.get(author="Dee")], "the author's own view")
    duplicate = reader.post("/comments/post/", {**mine, "comment": "Held for moderation"})
    assert duplicate.status_code == 409
    assert_nothing_personal(duplicate.content, crowd, "the duplicate page")


def test_a_remembered_email_goes_to_its_owner_only(post, settings, django_capture_on_commit_callbacks):
    settings.ARCHIVE_COMMENT_MODERATION = "open"
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 0
    Client().get(post.get_absolute_url())  # a cached copy exists before the reply
    owner = Client(enforce_csrf_checks=True)
    owner.get(post.get_absolute_url())
    with django_capture_on_commit_callbacks(execute=True):  # the page cache is invalidated on commit
        answer = owner.post("/comments/post/", {
            "author": "Eve", "email": "eve@example.org", "url": "",
            "comment": "Remember me", "comment_post_ID": post.pk, "comment_parent": 0,
            "wp-comment-cookies-consent": "yes",
        })  # fmt: skip
    assert answer.status_code == 302
    assert b'value="eve@example.org"' in owner.get(post.get_absolute_url()).content
    stranger_view = Client().get(post.get_absolute_url())
    assert b"Remember me" in stranger_view.content
    assert_nothing_personal(stranger_view.content, list(Comment.objects.all()), "a stranger's view")


def test_the_admin_shows_the_email(post, crowd):
    """The counterpart: where the addresses are meant to be, the same check finds them."""
    staff = Client()
    staff.force_login(get_user_model().objects.create_superuser("mod", "mod@example.com", "pw-unused-here"))
    page = staff.get(f"/admin/archive/comment/{crowd[0].pk}/change/")
    assert page.status_code == 200
    with pytest.raises(AssertionError, match="appears on the admin"):
        assert_nothing_personal(page.content, [crowd[0]], "the admin")
