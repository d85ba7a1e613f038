"""Threads and pages (issue 3, rules 5 and 8): replies nested in ol.children, the depth limit, the reply link
without JavaScript (?replytocom=N), and paging by top-level thread with the redirect landing on the right page."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.test import Client, TestCase

from archive.models import Comment, Post
from tests.replyhelpers import (
    browser,
    comment_ids,
    comment_item,
    commentlist,
    fill_in,
    follow,
    form_values,
    get,
    heading,
    make_comment,
    open_rules,
    redirected_id,
    reply_form,
    scripts,
    set_status,
    submit,
)


@pytest.fixture(autouse=True)
def _rules(settings):
    open_rules(settings)


def reply_to(post, parent_pk: int, text: str = "", **fields) -> int:
    return redirected_id(submit(browser(), post, comment_parent=str(parent_pk), comment=text or None, **fields))


def chain(post, length: int) -> list[int]:
    """A top-level reply and `length - 1` replies, each to the one before."""
    ids = [redirected_id(submit(browser(), post, comment="Level 1"))]
    for level in range(2, length + 1):
        ids.append(reply_to(post, ids[-1], f"Level {level}"))
    return ids


def depth_of(item) -> int:
    return int(next(c for c in item.classes if c.startswith("depth-")).split("-")[1])


def reply_link(item):
    [body] = item.kids("article", cls="comment-body")
    return body.find("a", cls="comment-reply-link")


# --- Nesting ---------------------------------------------------------------------------------------------------


def test_replies_nest_in_children_of_the_parent_item(post):
    top = redirected_id(submit(browser(), post, comment="Top"))
    child = reply_to(post, top, "Child")
    sibling = reply_to(post, top, "Sibling")
    grandchild = reply_to(post, child, "Grandchild")
    _, doc = get(Client(), post.get_absolute_url())
    top_item = comment_item(doc, top)
    assert top_item.parent is commentlist(doc)
    assert "parent" in top_item.classes
    [children] = top_item.kids("ol", cls="children")
    assert [el.get("id") for el in children.kids("li")] == [
        f"comment-{child}",
        f"comment-{sibling}",
    ]
    child_item = comment_item(doc, child)
    assert child_item.parent is children
    assert comment_item(doc, grandchild).parent.parent is child_item
    assert [depth_of(comment_item(doc, pk)) for pk in (top, child, sibling, grandchild)] == [1, 2, 2, 3]
    assert heading(doc) == f"4 Responses to “{post.title}”"


def test_reply_redirects_to_its_own_anchor(post):
    top = redirected_id(submit(browser(), post))
    response = submit(browser(), post, comment_parent=str(top), comment="Answer")
    pk = redirected_id(response)
    assert response["Location"] == f"{post.get_absolute_url()}#comment-{pk}"
    assert Comment.objects.get(pk=pk).parent_id == top


def test_depth_limit_five(post, settings):
    assert settings.ARCHIVE_THREAD_DEPTH == 5
    ids = chain(post, 5)
    _, doc = get(Client(), post.get_absolute_url())
    for level, pk in enumerate(ids, start=1):
        item = comment_item(doc, pk)
        assert depth_of(item) == level
        if level < 5:
            link = reply_link(item)
            assert link is not None
            assert link.get("href") == f"{post.get_absolute_url()}?replytocom={pk}#respond"
            assert link.get("data-commentid") == str(pk)
            assert link.get("data-belowelement") == f"div-comment-{pk}"
        else:
            assert reply_link(item) is None


def test_replies_past_the_limit_stay_at_the_last_level(post):
    ids = chain(post, 5)
    deeper = reply_to(post, ids[-1], "Level 6, shown at 5")  # posted by hand: the page offers no link
    _, doc = get(Client(), post.get_absolute_url())
    item = comment_item(doc, deeper)
    assert depth_of(item) == 5
    assert item.parent is comment_item(doc, ids[-1]).parent  # a sibling of its parent
    assert reply_link(item) is None
    assert item.kids("ol", cls="children") == []


def test_depth_limit_is_a_setting(post, settings):
    settings.ARCHIVE_THREAD_DEPTH = 3
    ids = chain(post, 4)
    _, doc = get(Client(), post.get_absolute_url())
    assert [depth_of(comment_item(doc, pk)) for pk in ids] == [1, 2, 3, 3]
    assert reply_link(comment_item(doc, ids[1])) is not None
    assert reply_link(comment_item(doc, ids[2])) is None


def test_reply_below_a_held_parent_hangs_from_its_thread(post):
    top = redirected_id(submit(browser(), post, comment="Top"))
    middle = reply_to(post, top, "Middle")
    leaf = reply_to(post, middle, "Leaf")
    set_status(middle, Comment.Status.PENDING)
    _, doc = get(Client(), post.get_absolute_url())
    assert comment_item(doc, middle) is None
    assert comment_item(doc, leaf) is not None
    assert comment_item(doc, leaf).parent.parent is comment_item(doc, top)


@pytest.mark.parametrize("hidden", [Comment.Status.SPAM, Comment.Status.TRASH, Comment.Status.PENDING])
def test_heading_counts_only_what_a_reader_sees_when_a_thread_root_is_hidden(post, hidden):
    """Approved replies below a hidden thread root are not shown, so the heading does not count them."""
    kept = redirected_id(submit(browser(), post, comment="Kept"))
    reply_to(post, kept, "Kept reply")
    gone = redirected_id(submit(browser(), post, comment="Gone"))
    below = [reply_to(post, gone, "Below 1")]
    below.append(reply_to(post, below[0], "Below 2"))
    set_status(gone, hidden)
    _, doc = get(Client(), post.get_absolute_url())
    shown = comment_ids(doc)
    assert len(shown) == 2 and not set(shown) & {gone, *below}
    assert heading(doc) == f"2 Responses to “{post.title}”"


# --- ?replytocom=N -----------------------------------------------------------------------------------------------


def test_replytocom_sets_the_parent_without_javascript(post):
    top = redirected_id(submit(browser(), post, author="Alice Example"))
    reader = browser()
    response, doc = get(reader, post.get_absolute_url(), replytocom=str(top))
    assert response.status_code == 200
    title = doc.one(id="reply-title")
    assert title.one(id="reply-title-text").squashed_text() == "Leave a Reply to Alice Example"
    cancel = doc.one("a", id="cancel-comment-reply-link")
    assert "hidden" not in cancel.attrs
    assert cancel.text() == "Cancel reply"
    assert cancel.get("href") == f"{post.get_absolute_url()}#respond"
    assert form_values(doc)["comment_parent"] == str(top)
    # And the form as served posts a reply to that comment.
    url = f"{post.get_absolute_url()}?replytocom={top}"
    response = fill_in(reader, url, comment="Via the link", author="Bob", email="bob@example.com")
    assert Comment.objects.get(pk=redirected_id(response)).parent_id == top


def test_without_replytocom_the_cancel_link_is_hidden(post):
    _, doc = get(Client(), post.get_absolute_url())
    assert doc.one(id="reply-title-text").squashed_text() == "Leave a Reply"
    assert "hidden" in doc.one("a", id="cancel-comment-reply-link").attrs
    assert form_values(doc)["comment_parent"] == "0"


@pytest.mark.parametrize(
    "kind", ["pending", "spam", "trash", "other-post", "nonexistent", "letters", "negative", "huge", "empty"]
)
def test_invalid_replytocom_is_ignored(post, kind):
    if kind in ("pending", "spam", "trash"):
        value = str(make_comment(post, status=kind, author="Hidden Author").pk)
    elif kind == "other-post":
        other = Post.objects.create(
            title="Other", slug="other", body="x", source_name="o.txt", original=b"x", sha256="0" * 64, encoding="utf-8"
        )
        value = str(make_comment(other, author="Hidden Author").pk)
    else:
        value = {"nonexistent": "424242", "letters": "abc", "negative": "-1", "huge": "9" * 30, "empty": ""}[kind]
    response, doc = get(Client(), post.get_absolute_url(), replytocom=value)
    assert response.status_code == 200
    assert doc.one(id="reply-title-text").squashed_text() == "Leave a Reply"
    assert "Hidden Author" not in response.content.decode()
    assert "hidden" in doc.one("a", id="cancel-comment-reply-link").attrs
    assert form_values(doc)["comment_parent"] == "0"


def test_reply_links_are_plain_links_and_the_script_is_external(post):
    top = redirected_id(submit(browser(), post))
    _, doc = get(Client(), post.get_absolute_url())
    link = reply_link(comment_item(doc, top))
    assert link.get("rel") == "nofollow"
    assert link.get("onclick") is None
    assert [s.get("src") for s in scripts(doc)] == [static("archive/comment-reply.js"),
                                                    static("archive/comment-preview.js")]
    assert all(s.text().strip() == "" for s in scripts(doc))
    assert finders.find("archive/comment-reply.js")


# --- Pagination ------------------------------------------------------------------------------------------------


def page_url(post, number: int) -> str:
    return f"{post.get_absolute_url()}comment-page-{number}/"


def make_threads(post, count: int) -> list[int]:
    """`count` top-level public replies, oldest first."""
    return [make_comment(post, f"Thread {n}", minutes_ago=(count - n) * 10).pk for n in range(count)]


def pager_links(doc) -> dict[str, str]:
    links = {}
    for nav in doc.find_all("nav", cls="comment-pages"):
        for a in nav.find_all("a"):
            links[a.squashed_text()] = a.get("href")
    return links


def top_level_ids(doc) -> list[int]:
    ol = commentlist(doc)
    return [int(li.get("id").split("-")[1]) for li in ol.children if not isinstance(li, str) and li.tag == "li"]


def test_no_pager_up_to_the_limit(post, settings):
    settings.ARCHIVE_COMMENTS_PER_PAGE = 3
    make_threads(post, 3)
    _, doc = get(Client(), post.get_absolute_url())
    assert doc.find("nav", cls="comment-pages") is None
    assert len(top_level_ids(doc)) == 3


def test_pages_of_threads_newest_page_by_default(post, settings):
    settings.ARCHIVE_COMMENTS_PER_PAGE = 2
    ids = make_threads(post, 5)  # pages: [0, 1] [2, 3] [4]
    _, doc = get(Client(), post.get_absolute_url())
    assert top_level_ids(doc) == ids[4:]
    assert pager_links(doc) == {"« Older Comments": f"{page_url(post, 2)}#comments"}
    assert heading(doc) == f"5 Responses to “{post.title}”"

    response, doc = get(Client(), page_url(post, 1))
    assert response.status_code == 200
    assert top_level_ids(doc) == ids[:2]
    assert pager_links(doc) == {"Newer Comments »": f"{page_url(post, 2)}#comments"}

    _, doc = get(Client(), page_url(post, 2))
    assert top_level_ids(doc) == ids[2:4]
    assert pager_links(doc) == {
        "« Older Comments": f"{page_url(post, 1)}#comments",
        "Newer Comments »": f"{post.get_absolute_url()}#comments",
    }
    # Comment permalinks on an older page point at that page.
    date_link = comment_item(doc, ids[2]).one("div", cls="comment-metadata").one("a")
    assert date_link.get("href") == f"{page_url(post, 2)}#comment-{ids[2]}"


def test_replies_stay_with_their_thread_on_its_page(post, settings):
    settings.ARCHIVE_COMMENTS_PER_PAGE = 2
    ids = make_threads(post, 3)
    old_reply = make_comment(post, "Late reply to the first thread", parent=Comment.objects.get(pk=ids[0])).pk
    _, doc = get(Client(), page_url(post, 1))
    assert comment_item(doc, old_reply).parent.parent is comment_item(doc, ids[0])
    _, doc = get(Client(), post.get_absolute_url())
    assert comment_item(doc, old_reply) is None


@pytest.mark.parametrize("number", [0, 4, 99, 10**30])
def test_nonexistent_page_is_404(post, settings, number):
    settings.ARCHIVE_COMMENTS_PER_PAGE = 2
    make_threads(post, 5)
    assert Client().get(page_url(post, number)).status_code == 404


def test_page_one_exists_without_comments(post):
    assert Client().get(page_url(post, 1)).status_code == 200
    assert Client().get(page_url(post, 2)).status_code == 404


def test_redirect_after_a_new_thread_lands_on_the_newest_page(post, settings):
    settings.ARCHIVE_COMMENTS_PER_PAGE = 2
    make_threads(post, 4)
    response = submit(browser(), post, comment="A new thread")
    pk = redirected_id(response)
    assert response["Location"] == f"{post.get_absolute_url()}#comment-{pk}"
    _, doc = follow(Client(), response)
    assert top_level_ids(doc) == [pk]


def test_redirect_after_replying_to_an_old_thread_lands_on_its_page(post, settings):
    settings.ARCHIVE_COMMENTS_PER_PAGE = 2
    ids = make_threads(post, 5)
    reader = browser()
    response = submit(reader, post, page=page_url(post, 1), comment_parent=str(ids[0]), comment="Late answer")
    pk = redirected_id(response)
    assert response["Location"] == f"{page_url(post, 1)}#comment-{pk}"
    page, doc = follow(Client(), response)
    assert page.status_code == 200
    assert comment_item(doc, pk).parent.parent is comment_item(doc, ids[0])


def test_redirect_for_a_held_reply_lands_where_its_author_sees_it(post, settings):
    settings.ARCHIVE_COMMENTS_PER_PAGE = 2
    settings.ARCHIVE_COMMENT_MODERATION = "all"
    ids = make_threads(post, 5)
    author = browser()
    response = submit(author, post, comment_parent=str(ids[2]), comment="Held answer")
    pk = redirected_id(response)
    assert response["Location"] == f"{page_url(post, 2)}#comment-{pk}"
    _, doc = follow(author, response)
    assert comment_item(doc, pk) is not None
    _, doc = follow(Client(), response)
    assert comment_item(doc, pk) is None


def test_pages_count_top_level_threads_not_replies(post, settings):
    settings.ARCHIVE_COMMENTS_PER_PAGE = 2
    ids = make_threads(post, 2)
    for n in range(5):
        make_comment(post, f"Reply {n}", parent=Comment.objects.get(pk=ids[1]))
    _, doc = get(Client(), post.get_absolute_url())
    assert doc.find("nav", cls="comment-pages") is None
    assert len(comment_ids(doc)) == 7
    assert Client().get(page_url(post, 2)).status_code == 404


def test_closed_post_keeps_its_threads_but_offers_no_reply(post):
    top = redirected_id(submit(browser(), post))
    with TestCase.captureOnCommitCallbacks(execute=True):
        post.comments_open = False
        post.save()
    _, doc = get(Client(), post.get_absolute_url())
    assert comment_item(doc, top) is not None
    assert reply_link(comment_item(doc, top)) is None
    assert reply_form(doc) is None
