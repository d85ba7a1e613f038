"""Moderators in the Django admin (issue 3, rule 6): the comment list with filters and search, the bulk actions
whose effect shows on the public page, the Post admin's switches, and a changelist without N+1 queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client, TestCase
from django.test.utils import CaptureQueriesContext

from archive import pagecache
from archive.models import Comment, Post
from tests.replyhelpers import (
    DUPLICATE,
    browser,
    comment_ids,
    comment_item,
    fields_for,
    get,
    heading,
    make_comment,
    parse,
    redirected_id,
    reply_form,
    send,
    submit,
)

CHANGELIST = "/admin/archive/comment/"


@pytest.fixture
def moderator(db, django_user_model, settings) -> Client:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # quick to set up
    user = django_user_model.objects.create_superuser("moderator", "mod@example.com", "a-long-pass-phrase")
    client = Client()
    client.force_login(user)
    return client


def listed(moderator: Client, **query) -> list[int]:
    """The comment ids the changelist shows for `query`."""
    response = moderator.get(CHANGELIST, query)
    assert response.status_code == 200
    doc = parse(response.content)
    ids = []
    for box in doc.find_all("input"):
        if box.get("name") == "_selected_action":
            ids.append(int(box.get("value")))
    return sorted(ids)


def act(moderator: Client, action: str, ids: list[int]):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return moderator.post(CHANGELIST, {"action": action, "_selected_action": [str(i) for i in ids], "index": "0"})


@pytest.fixture
def mixed(post):
    other = Post.objects.create(
        title="Second post",
        slug="second-post",
        body="x",
        source_name="second.txt",
        original=b"x",
        sha256="1" * 64,
        encoding="utf-8",
    )
    return {
        "approved": make_comment(post, "An approved reply about onions", author="Olive"),
        "pending": make_comment(
            post, "A held reply about garlic", status=Comment.Status.PENDING, author="Gary", email="gary@example.com"
        ),
        "spam": make_comment(post, "Cheap watches", status=Comment.Status.SPAM, author="Spammer"),
        "trash": make_comment(post, "Thrown away", status=Comment.Status.TRASH),
        "ping": make_comment(
            post, "An excerpt", kind=Comment.Kind.TRACKBACK, url="https://blog.example.com/p", blog_name="Some Blog"
        ),
        "other": make_comment(other, "On the second post", author="Elsewhere"),
        "other_post": other,
    }


def test_anonymous_readers_are_sent_to_the_login(db):
    response = Client().get(CHANGELIST)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_comment_list_filters(moderator, mixed, post):
    pk = {name: obj.pk for name, obj in mixed.items() if isinstance(obj, Comment)}
    assert listed(moderator) == sorted(pk.values())
    assert listed(moderator, status__exact="pending") == [pk["pending"]]
    assert listed(moderator, status__exact="spam") == [pk["spam"]]
    assert listed(moderator, status__exact="trash") == [pk["trash"]]
    assert listed(moderator, kind__exact="trackback") == [pk["ping"]]
    assert listed(moderator, post__id__exact=str(mixed["other_post"].pk)) == [pk["other"]]
    assert listed(moderator, post__id__exact=str(post.pk), status__exact="approved") == sorted(
        [pk["approved"], pk["ping"]]
    )
    page = moderator.get(CHANGELIST).content.decode()
    for label in ("By status", "By kind", "By post"):
        assert label in page


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("garlic", "pending"),
        ("gary@example", "pending"),
        ("Olive", "approved"),
        ("Some Blog", "ping"),
        ("blog.example.com", "ping"),
    ],
)
def test_comment_list_search(moderator, mixed, term, expected):
    assert listed(moderator, q=term) == [mixed[expected].pk]


def test_search_finds_nothing_for_a_stranger(moderator, mixed):
    assert listed(moderator, q="no-such-words-anywhere") == []


def test_approve_publishes_on_the_page(moderator, mixed, post):
    held = mixed["pending"].pk
    assert held not in comment_ids(get(Client(), post.get_absolute_url())[1])
    response = act(moderator, "mark_approved", [held])
    assert response.status_code == 302
    assert Comment.objects.get(pk=held).status == Comment.Status.APPROVED
    _, doc = get(Client(), post.get_absolute_url())
    assert comment_item(doc, held) is not None
    assert heading(doc) == f"3 Responses to “{post.title}”"
    assert "1 response(s) changed." in moderator.get(CHANGELIST).content.decode()


@pytest.mark.parametrize(
    ("action", "status"),
    [
        ("mark_pending", Comment.Status.PENDING),
        ("mark_spam", Comment.Status.SPAM),
        ("mark_trash", Comment.Status.TRASH),
    ],
)
def test_unapprove_spam_and_trash_take_it_off_the_page(moderator, mixed, post, action, status):
    shown = mixed["approved"].pk
    _, before = get(Client(), post.get_absolute_url())  # fills the page cache
    assert comment_item(before, shown) is not None
    assert act(moderator, action, [shown]).status_code == 302
    assert Comment.objects.get(pk=shown).status == status
    _, doc = get(Client(), post.get_absolute_url())
    assert comment_item(doc, shown) is None
    assert heading(doc) == f"One Response to “{post.title}”"  # the ping is left


def test_bulk_action_on_many(moderator, post):
    ids = [make_comment(post, f"Held {n}", status=Comment.Status.PENDING).pk for n in range(5)]
    act(moderator, "mark_approved", ids[:4])
    assert sorted(Comment.objects.filter(status=Comment.Status.APPROVED).values_list("pk", flat=True)) == ids[:4]
    assert len(comment_ids(get(Client(), post.get_absolute_url())[1])) == 4


def test_bulk_action_moves_the_page_cache_on(moderator, mixed):
    before = pagecache.current_version()
    act(moderator, "mark_spam", [mixed["approved"].pk])
    assert pagecache.current_version() != before


def test_restoring_from_trash_when_a_copy_was_posted_again(moderator, post, settings):
    """The same reply posted again after the first was trashed: restoring the first must not crash."""
    settings.ARCHIVE_COMMENT_MODERATION = "open"
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 0
    first = redirected_id(submit(browser(), post, comment="Said twice."))
    act(moderator, "mark_trash", [first])
    second = redirected_id(submit(browser(), post, comment="Said twice."))
    response = act(moderator, "mark_approved", [first])
    assert response.status_code == 302
    assert Comment.objects.get(pk=second).status == Comment.Status.APPROVED
    assert Comment.objects.get(pk=first).status == Comment.Status.TRASH  # the copy stays in the trash
    assert comment_ids(get(Client(), post.get_absolute_url())[1]) == [second]


def test_comment_change_form_is_reachable(moderator, mixed):
    response = moderator.get(f"{CHANGELIST}{mixed['pending'].pk}/change/")
    assert response.status_code == 200
    assert moderator.get(f"{CHANGELIST}add/").status_code == 403


def test_no_n_plus_one_in_the_changelist(moderator, post, django_assert_max_num_queries):
    make_comment(post, "warm-up")  # one row, so that every per-page query runs at least once
    with CaptureQueriesContext(connection) as few:
        assert moderator.get(CHANGELIST).status_code == 200
    for n in range(40):
        make_comment(post, f"reply {n}", status=[Comment.Status.APPROVED, Comment.Status.PENDING][n % 2])
    for n in range(10):
        make_comment(post, f"ping {n}", kind=Comment.Kind.TRACKBACK, url=f"https://b{n}.example.com/")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert moderator.get(CHANGELIST).status_code == 200


def test_empty_changelist_costs_the_same(moderator, post):
    with CaptureQueriesContext(connection) as empty:
        moderator.get(CHANGELIST)
    for n in range(30):
        make_comment(post, f"reply {n}")
    with CaptureQueriesContext(connection) as full:
        moderator.get(CHANGELIST)
    assert len(full.captured_queries) == len(empty.captured_queries), [q["sql"][:80] for q in full.captured_queries]


# --- The Post admin ---------------------------------------------------------------------------------------------


def post_change(moderator: Client, post: Post, **fields):
    data = {"comments_open": "on" if post.comments_open else "", "pings_open": "on" if post.pings_open else ""}
    data.update(fields)
    data = {key: value for key, value in data.items() if value}
    with TestCase.captureOnCommitCallbacks(execute=True):
        return moderator.post(f"/admin/archive/post/{post.pk}/change/", {**data, "_save": "Save"})


def test_post_admin_closes_and_opens_comments(moderator, post):
    reader = browser()
    _, doc = get(reader, post.get_absolute_url())
    assert reply_form(doc) is not None
    response = post_change(moderator, post, comments_open="")
    assert response.status_code == 302
    post.refresh_from_db()
    assert post.comments_open is False and post.pings_open is True
    _, doc = get(Client(), post.get_absolute_url())
    assert reply_form(doc) is None
    assert "Comments are closed." in doc.squashed_text()
    assert send(reader, fields_for(post)).status_code == 403  # a reader who opened the page before it closed
    assert not Comment.objects.exists()
    response = post_change(moderator, post, comments_open="on")
    post.refresh_from_db()
    assert post.comments_open is True
    assert reply_form(get(Client(), post.get_absolute_url())[1]) is not None


def test_post_admin_closes_pings(moderator, post):
    post_change(moderator, post, pings_open="")
    post.refresh_from_db()
    assert post.pings_open is False and post.comments_open is True
    assert 'rel="trackback"' not in Client().get(post.get_absolute_url()).content.decode()


def test_archived_fields_are_read_only(moderator, post):
    original = (post.title, post.slug, post.body, post.sha256, bytes(post.original))
    page = moderator.get(f"/admin/archive/post/{post.pk}/change/")
    assert page.status_code == 200
    doc = parse(page.content)
    editable = {el.get("name") for el in doc.iter() if el.tag in ("input", "textarea", "select") and el.get("name")}
    assert {"comments_open", "pings_open"} <= editable
    assert not editable & {"title", "slug", "body", "source_name", "sha256", "encoding", "chrome", "original"}
    assert post.title in doc.squashed_text()
    post_change(moderator, post, title="Rewritten", slug="rewritten", body="New body", sha256="f" * 64)
    post.refresh_from_db()
    assert (post.title, post.slug, post.body, post.sha256, bytes(post.original)) == original
    assert moderator.get("/admin/archive/post/add/").status_code == 403


def test_post_changelist_lists_counts(moderator, post):
    make_comment(post)
    make_comment(post, status=Comment.Status.PENDING)
    page = moderator.get("/admin/archive/post/")
    assert page.status_code == 200
    doc = parse(page.content)
    cell = doc.one("td", cls="field-public_responses")
    assert cell.squashed_text() == "1"


def change_comment(moderator: Client, comment: Comment, **fields):
    data = {
        "status": comment.status,
        "author": comment.author,
        "author_email": comment.author_email,
        "author_url": comment.author_url,
        "content": comment.content,
        "title": comment.title,
        "blog_name": comment.blog_name,
        "_save": "Save",
    }
    data.update(fields)
    with TestCase.captureOnCommitCallbacks(execute=True):
        return moderator.post(f"{CHANGELIST}{comment.pk}/change/", data)


def test_change_form_refuses_to_restore_a_duplicate(moderator, post):
    trashed = make_comment(post, "Same words", author="Twice", status=Comment.Status.TRASH)
    make_comment(post, "Same words", author="Twice")
    response = change_comment(moderator, trashed, status=Comment.Status.APPROVED)
    assert response.status_code == 200  # the form again, with the reason
    assert "says the same" in parse(response.content).squashed_text()
    assert Comment.objects.get(pk=trashed.pk).status == Comment.Status.TRASH


def test_edited_reply_is_re_rendered_and_keeps_the_duplicate_rule(moderator, post, settings):
    settings.ARCHIVE_COMMENT_MODERATION = "open"
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 0
    comment = make_comment(post, "Original words", author="Editor", email="editor@example.com")
    response = change_comment(moderator, comment, content="Edited **words** https://example.com/")
    assert response.status_code == 302
    _, doc = get(Client(), post.get_absolute_url())
    content = comment_item(doc, comment.pk).one("div", cls="comment-content")
    assert content.one("strong").text() == "words"
    assert content.one("a").get("rel") == "nofollow ugc"
    same = {"author": "Editor", "email": "editor@example.com"}
    assert submit(browser(), post, comment="Edited **words** https://example.com/", **same).status_code == 409
    redirected_id(submit(browser(), post, comment="Original words", **same))  # no longer a repeat


def test_thread_shape_is_not_editable(moderator, post):
    parent = make_comment(post, "Parent")
    child = make_comment(post, "Child", parent=parent)
    doc = parse(moderator.get(f"{CHANGELIST}{child.pk}/change/").content)
    names = {el.get("name") for el in doc.iter() if el.tag in ("input", "select", "textarea")}
    assert not names & {"parent", "thread", "post", "kind"}
    change_comment(moderator, child, parent=str(child.pk), thread="", content="Child edited")
    child.refresh_from_db()
    assert child.parent_id == parent.pk and child.thread_id == parent.pk and child.content == "Child edited"


def test_change_form_stores_line_breaks_as_the_reply_form_does(moderator, post):
    comment = make_comment(post, "Before", author="Editor", email="editor@example.com")
    response = change_comment(moderator, comment, content="\r\n    code line\r\nLine two\r\rLine four\r\n\r\n")
    assert response.status_code == 302
    comment.refresh_from_db()
    assert comment.content == "    code line\nLine two\n\nLine four"  # LF only; the indent stays, as typed
    assert "\r" not in comment.content_html and "<pre>" in comment.content_html


def test_change_form_refuses_an_edit_that_repeats_another_reply(moderator, post):
    """A browser sends the textarea with CRLF; the duplicate rule must see the same text as the reply form
    stores it, and answer with the form again (not an IntegrityError)."""
    same = {"author": "Twice", "email": "twice@example.com"}
    make_comment(post, "Line one\nLine two", **same)
    other = make_comment(post, "Something else", **same)
    response = change_comment(moderator, other, content="Line one\r\nLine two")
    assert response.status_code == 200  # the form again, with the reason
    assert DUPLICATE in parse(response.content).squashed_text()
    other.refresh_from_db()
    assert other.content == "Something else"


def test_post_filter_tells_posts_of_the_same_title_apart(moderator, post):
    twin = Post.objects.create(title=post.title, slug=f"{post.slug}-2", body="x", source_name="twin.txt",
                               original=b"x", sha256="2" * 64, encoding="utf-8")  # fmt: skip
    make_comment(twin, "On the twin")
    doc = parse(moderator.get(CHANGELIST).content)
    choices = {
        link.get("href"): link.squashed_text()
        for link in doc.find_all("a")
        if "post__id__exact=" in (link.get("href") or "")
    }
    assert choices == {
        f"?post__id__exact={post.pk}": f"{post.title} ({post.slug})",
        f"?post__id__exact={twin.pk}": f"{twin.title} ({twin.slug})",
    }
