"""Moderation (issue 3, rule 6): open / first-time / all, links and blocklist hold, the honeypot marks spam, and
the author of a held reply — and nobody else — sees it, through a signed cookie."""

from __future__ import annotations

import pytest
from django.core import signing
from django.db import connection
from django.test import Client

from archive import readers
from archive.models import Comment
from tests.replyhelpers import (
    AWAITING,
    browser,
    comment_ids,
    comment_item,
    follow,
    get,
    heading,
    make_comment,
    redirected_id,
    set_status,
    submit,
)


@pytest.fixture(autouse=True)
def _no_flood(settings):
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 0


def public_ids(post) -> list[int]:
    return comment_ids(get(Client(), post.get_absolute_url())[1])


def status_of(pk: int) -> str:
    return Comment.objects.get(pk=pk).status


# --- The three policies ----------------------------------------------------------------------------------------


def test_open_publishes_at_once(post, settings):
    settings.ARCHIVE_COMMENT_MODERATION = "open"
    pk = redirected_id(submit(browser(), post, author="Stranger", email="stranger@example.com"))
    assert status_of(pk) == Comment.Status.APPROVED
    assert pk in public_ids(post)


def test_first_time_is_the_default(post, settings):
    assert settings.ARCHIVE_COMMENT_MODERATION == "first-time"
    pk = redirected_id(submit(browser(), post, author="Newcomer", email="newcomer@example.com"))
    assert status_of(pk) == Comment.Status.PENDING
    assert pk not in public_ids(post)


def test_first_time_publishes_an_author_with_an_approved_reply(post):
    make_comment(post, author="Regular", email="regular@example.com")
    pk = redirected_id(submit(browser(), post, author="Regular", email="Regular@Example.com"))
    assert status_of(pk) == Comment.Status.APPROVED
    assert pk in public_ids(post)


@pytest.mark.parametrize(
    ("earlier", "author", "email"),
    [
        (Comment.Status.APPROVED, "Regular", "other@example.com"),  # same name, another email
        (Comment.Status.APPROVED, "Impostor", "regular@example.com"),  # same email, another name
        (Comment.Status.PENDING, "Regular", "regular@example.com"),  # earlier reply never approved
        (Comment.Status.SPAM, "Regular", "regular@example.com"),
        (Comment.Status.TRASH, "Regular", "regular@example.com"),
    ],
)
def test_first_time_holds_everyone_else(post, earlier, author, email):
    make_comment(post, author="Regular", email="regular@example.com", status=earlier)
    pk = redirected_id(submit(browser(), post, author=author, email=email))
    assert status_of(pk) == Comment.Status.PENDING


def test_first_time_holds_an_approved_ping_author(post):
    make_comment(
        post,
        kind=Comment.Kind.TRACKBACK,
        author="Regular",
        email="regular@example.com",
        url="https://blog.example.com/",
    )
    pk = redirected_id(submit(browser(), post, author="Regular", email="regular@example.com"))
    assert status_of(pk) == Comment.Status.PENDING


def test_first_time_holds_without_name_and_email(post, settings):
    settings.ARCHIVE_REQUIRE_NAME_EMAIL = False
    make_comment(post, author="", email="")
    pk = redirected_id(submit(browser(), post, author="", email=""))
    assert status_of(pk) == Comment.Status.PENDING


def test_all_holds_even_known_authors(post, settings):
    settings.ARCHIVE_COMMENT_MODERATION = "all"
    make_comment(post, author="Regular", email="regular@example.com")
    pk = redirected_id(submit(browser(), post, author="Regular", email="regular@example.com"))
    assert status_of(pk) == Comment.Status.PENDING
    assert pk not in public_ids(post)


def test_approving_publishes_and_then_the_author_is_known(post):
    first = redirected_id(submit(browser(), post, author="Patient", email="patient@example.com"))
    assert first not in public_ids(post)
    set_status(first, Comment.Status.APPROVED)
    assert first in public_ids(post)
    second = redirected_id(submit(browser(), post, author="Patient", email="patient@example.com"))
    assert status_of(second) == Comment.Status.APPROVED


# --- Held whatever the policy: links and the blocklist ------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "[one](https://a.example.com/) and [two](https://b.example.com/)",
        "bare https://a.example.com/ and https://b.example.com/",
        "mixed [one](https://a.example.com/) www.example.org",
    ],
)
def test_two_links_hold_even_when_open(post, settings, text):
    settings.ARCHIVE_COMMENT_MODERATION = "open"
    pk = redirected_id(submit(browser(), post, comment=text))
    assert status_of(pk) == Comment.Status.PENDING


def test_one_link_is_published_when_open(post, settings):
    settings.ARCHIVE_COMMENT_MODERATION = "open"
    pk = redirected_id(submit(browser(), post, comment="Only [one](https://a.example.com/)."))
    assert status_of(pk) == Comment.Status.APPROVED


def test_link_limit_is_a_setting(post, settings):
    settings.ARCHIVE_COMMENT_MODERATION = "open"
    settings.ARCHIVE_COMMENT_MAX_LINKS = 3
    pk = redirected_id(submit(browser(), post, comment="https://a.example.com/ https://b.example.com/"))
    assert status_of(pk) == Comment.Status.APPROVED


@pytest.mark.parametrize(
    "fields",
    [
        {"comment": "Buy CHEAP-PILLS today"},
        {"author": "cheap-pills dealer"},
        {"email": "cheap-pills@example.com"},
        {"url": "https://cheap-pills.example.com/"},
    ],
)
def test_blocklist_holds_when_open(post, settings, fields):
    settings.ARCHIVE_COMMENT_MODERATION = "open"
    settings.ARCHIVE_COMMENT_BLOCKLIST = ["cheap-pills"]
    pk = redirected_id(submit(browser(), post, **fields))
    assert status_of(pk) == Comment.Status.PENDING
    assert pk not in public_ids(post)


def test_blocklist_matches_the_ip(post, settings):
    settings.ARCHIVE_COMMENT_MODERATION = "open"
    settings.ARCHIVE_COMMENT_BLOCKLIST = ["203.0.113."]
    held = redirected_id(submit(browser(), post, remote_addr="203.0.113.9"))
    passed = redirected_id(submit(browser(), post, remote_addr="198.51.100.9", email="other@example.com"))
    assert status_of(held) == Comment.Status.PENDING
    assert status_of(passed) == Comment.Status.APPROVED


# --- The honeypot ------------------------------------------------------------------------------------------------


def test_filled_honeypot_is_stored_as_spam_and_looks_like_success(post, settings):
    settings.ARCHIVE_COMMENT_MODERATION = "open"
    bot = browser()
    response = submit(bot, post, hp_homepage="https://spam.example.com/", comment="Great post! Visit me.")
    pk = redirected_id(response)  # a redirect to #comment-N, like any success
    assert response["Location"].startswith(post.get_absolute_url())
    assert status_of(pk) == Comment.Status.SPAM
    assert readers.PENDING_COOKIE not in response.cookies
    page, doc = follow(bot, response)
    assert page.status_code == 200
    assert comment_item(doc, pk) is None  # not even the bot sees it
    assert pk not in public_ids(post)
    assert heading(doc) == "No Responses yet"


def test_spam_is_flood_checked_and_duplicate_checked(post, settings):
    """A bot filling the trap is stored as spam, but no faster than anyone else may post."""
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 3600
    first = redirected_id(submit(browser(), post, hp_homepage="x", comment="Spam one."))
    assert status_of(first) == Comment.Status.SPAM
    assert submit(browser(), post, hp_homepage="x", comment="Spam one.").status_code == 409
    assert submit(browser(), post, hp_homepage="x", comment="Spam two.").status_code == 429
    assert Comment.objects.count() == 1


# --- The author sees their held reply, nobody else does -----------------------------------------------------


def test_author_sees_held_reply_marked_after_the_redirect(post):
    author = browser()
    response = submit(author, post, author="Waiting Reader", comment="Please approve me.")
    pk = redirected_id(response)
    assert status_of(pk) == Comment.Status.PENDING
    cookie = response.cookies[readers.PENDING_COOKIE]
    assert cookie["httponly"] and cookie.value != str(pk) and ":" in cookie.value  # signed, not a bare id
    page, doc = follow(author, response)
    assert page.status_code == 200
    item = comment_item(doc, pk)
    assert item is not None
    assert "unapproved" in item.classes
    assert item.one("p", cls="comment-awaiting-moderation").squashed_text() == AWAITING
    assert "Please approve me." in item.one("div", cls="comment-content").text()
    assert item.find("a", cls="comment-reply-link") is None  # no replies to a held reply
    assert heading(doc) == "No Responses yet"  # held replies are not counted


def test_nobody_else_sees_a_held_reply(post):
    author = browser()
    pk = redirected_id(submit(author, post, comment="Only for me."))
    author.get(post.get_absolute_url())  # the author's personal page is rendered first
    for other in (Client(), browser()):
        page = other.get(post.get_absolute_url())
        doc_text = page.content.decode()
        assert f'id="comment-{pk}"' not in doc_text
        assert "Only for me." not in doc_text
        assert AWAITING not in doc_text


def test_author_keeps_seeing_several_held_replies(post):
    author = browser()
    first = redirected_id(submit(author, post, comment="First held."))
    second = redirected_id(submit(author, post, comment="Second held."))
    _, doc = get(author, post.get_absolute_url())
    assert {first, second} <= set(comment_ids(doc))


def test_held_reply_disappears_for_its_author_when_spammed(post):
    author = browser()
    pk = redirected_id(submit(author, post, comment="Will be spammed."))
    set_status(pk, Comment.Status.SPAM)
    _, doc = get(author, post.get_absolute_url())
    assert comment_item(doc, pk) is None


def test_approved_reply_loses_the_moderation_mark(post):
    author = browser()
    pk = redirected_id(submit(author, post, comment="Soon approved."))
    set_status(pk, Comment.Status.APPROVED)
    _, doc = get(author, post.get_absolute_url())
    item = comment_item(doc, pk)
    assert item.find("p", cls="comment-awaiting-moderation") is None
    assert "unapproved" not in item.classes


def forged_values(pk: int, genuine: str) -> list[str]:
    salt = f"archive.{readers.PENDING_COOKIE}"
    return [
        signing.dumps([pk], salt=salt, key="not-the-secret-key", compress=True),  # signed with another key
        signing.dumps([pk], salt="another.salt", compress=True),  # our key, another purpose
        signing.dumps([pk], salt=salt.replace("pending", "author"), compress=True),
        f"[{pk}]",
        str(pk),
        genuine[:-2] + ("AA" if not genuine.endswith("AA") else "BB"),  # tampered signature
        genuine.replace(genuine.split(":")[0], signing.dumps([pk + 1]).split(":")[0]),  # payload swapped
        "",
        "%%%garbage%%%",
    ]


def test_forged_or_tampered_cookie_shows_nothing(post):
    author = browser()
    response = submit(author, post, comment="Held and private.")
    pk = redirected_id(response)
    genuine = response.cookies[readers.PENDING_COOKIE].value
    for value in forged_values(pk, genuine):
        other = Client()
        other.cookies[readers.PENDING_COOKIE] = value
        page = other.get(post.get_absolute_url())
        assert page.status_code == 200, value
        assert f'id="comment-{pk}"' not in page.content.decode(), value
    # …whereas the genuine cookie, carried by another browser, is the author's own proof.
    carrier = Client()
    carrier.cookies[readers.PENDING_COOKIE] = genuine
    assert comment_item(get(carrier, post.get_absolute_url())[1], pk) is not None


def roll_ids_back(next_id: int) -> None:
    """What restoring an older backup does to the ids: the responses made since are gone, and the next
    response takes the first of their ids again."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("UPDATE sqlite_sequence SET seq = %s WHERE name = 'archive_comment'", [next_id - 1])
        else:
            cursor.execute("SELECT setval(pg_get_serial_sequence('archive_comment', 'id'), %s, false)", [next_id])


def test_a_cookie_from_before_a_restore_shows_no_held_reply_that_took_its_id(post):
    old_id = redirected_id(submit(me := browser(), post, comment="Mine, held, then lost in a restore."))
    Comment.objects.filter(pk=old_id).delete()
    roll_ids_back(old_id)
    theirs = redirected_id(submit(browser(), post, comment="Theirs, held.", email="them@example.com"))
    assert theirs == old_id, "the id came round again"
    assert status_of(theirs) == Comment.Status.PENDING
    legacy = Client()  # a cookie of the old kind, naming the id itself, genuinely signed
    legacy.cookies[readers.PENDING_COOKIE] = signing.dumps([old_id], salt=f"archive.{readers.PENDING_COOKIE}",
                                                           compress=True)  # fmt: skip
    for reader in (me, legacy):
        page = get(reader, post.get_absolute_url())[1]
        assert comment_item(page, theirs) is None


def test_held_replies_are_named_by_unique_random_tokens(post):
    author = browser()
    first = redirected_id(submit(author, post, comment="One."))
    second = redirected_id(submit(author, post, comment="Two."))
    tokens = [Comment.objects.get(pk=pk).pending_token for pk in (first, second)]
    assert all(readers.TOKEN.fullmatch(token) and len(token) >= 22 for token in tokens)
    assert tokens[0] != tokens[1]
    cookie = author.cookies[readers.PENDING_COOKIE].value
    assert signing.loads(cookie, salt=f"archive.{readers.PENDING_COOKIE}") == tokens
    assert {first, second} <= set(comment_ids(get(author, post.get_absolute_url())[1]))


def test_a_cookie_for_one_reply_shows_no_other_held_reply(post):
    mine = redirected_id(submit(me := browser(), post, comment="Mine."))
    theirs = redirected_id(submit(browser(), post, comment="Theirs.", email="them@example.com"))
    ids = comment_ids(get(me, post.get_absolute_url())[1])
    assert mine in ids and theirs not in ids


def test_the_public_page_is_never_the_authors_page(post):
    """The page cache must not hand the author's personal page (with their held reply) to anyone else."""
    author = browser()
    pk = redirected_id(submit(author, post, comment="Personal page."))
    for _ in range(2):
        assert comment_item(get(author, post.get_absolute_url())[1], pk) is not None
        assert comment_item(get(Client(), post.get_absolute_url())[1], pk) is None
