"""Leave a Reply (issue 3, rules 1–3 and 7): the form, success, every refusal, CSRF, hostile input, remember me.

Every test goes through Django's test client and the real database; CSRF is enforced as in production.
"""

from __future__ import annotations

import pytest
from django.test import Client, TestCase

from archive import readers
from archive.models import Comment, Post
from tests.replyhelpers import (
    DUPLICATE,
    FLOOD,
    REPLY_URL,
    SAME_ORIGIN,
    browser,
    comment_item,
    commentlist,
    field_error,
    fields_for,
    follow,
    form_values,
    get,
    heading,
    make_comment,
    notice,
    open_rules,
    parse,
    redirected_id,
    reply_form,
    scripts,
    send,
    submit,
    unique_email,
)


@pytest.fixture(autouse=True)
def _rules(settings):
    open_rules(settings)


# --- 1. Fields ----------------------------------------------------------------------------------------------


def test_form_has_wordpress_fields_and_limits(post, client):
    response, doc = get(client, post.get_absolute_url())
    assert response.status_code == 200
    form = reply_form(doc)
    assert form.get("method") == "post" and form.get("action") == REPLY_URL + "#respond"
    assert doc.one(id="respond").find(id="reply-title").squashed_text().startswith("Leave a Reply")
    limits = {"author": "245", "email": "100", "url": "200", "comment": "65525"}
    for name, maxlength in limits.items():
        control = form.one(id=name)
        assert control.get("name") == name
        assert control.get("maxlength") == maxlength, name
    assert form.one(id="comment").tag == "textarea"
    assert form.one(id="email").get("type") == "email"
    assert form.one(id="url").get("type") == "url"
    for name in ("comment", "author", "email"):
        assert "required" in form.one(id=name).attrs, name
    assert "required" not in form.one(id="url").attrs
    hidden = {el.get("name"): el.get("value") for el in form.find_all("input") if el.get("type") == "hidden"}
    assert hidden["comment_post_ID"] == str(post.pk)
    assert hidden["comment_parent"] == "0"
    assert "csrfmiddlewaretoken" not in hidden  # one page for everyone: nothing per reader in the form
    consent = form.one(id="wp-comment-cookies-consent")
    assert consent.get("type") == "checkbox" and consent.get("value") == "yes" and "checked" not in consent.attrs
    assert "Save my name, email, and website in this browser for the next time I comment." in form.squashed_text()
    trap = form.one(id="hp_homepage")
    assert trap.get("name") == "hp_homepage" and trap.get("tabindex") == "-1"
    assert "hidden" in trap.parent.attrs


def test_name_and_email_optional_when_the_setting_says_so(post, settings):
    settings.ARCHIVE_REQUIRE_NAME_EMAIL = False
    _, doc = get(Client(), post.get_absolute_url())
    assert "required" not in reply_form(doc).one(id="author").attrs
    reader = browser()
    response = submit(reader, post, author="", email="", comment="Nameless but welcome.")
    pk = redirected_id(response)
    _, doc = follow(Client(), response)
    assert "Anonymous" in comment_item(doc, pk).one("cite").text()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("author", "é" * 123, "Your name is too long."),  # 123 characters, 246 bytes
        ("author", "a" * 246, "Your name is too long."),
        ("email", "a" * 40 + "@" + "b" * 56 + ".com", "Your email address is too long."),  # 101 bytes
        ("url", "https://example.com/" + "a" * 181, "Your URL is too long."),  # 201 bytes
        ("url", "https://example.com/" + "é" * 91, "Your URL is too long."),  # 111 characters, 202 bytes
        ("comment", "a" * 65526, "Your comment is too long."),
        ("comment", "é" * 32763, "Your comment is too long."),  # under maxlength in characters, 65526 bytes
    ],
)
def test_byte_limits_are_enforced_by_the_server(post, field, value, message):
    reader = browser()
    response = submit(reader, post, **{field: value})
    assert response.status_code == 400
    doc = parse(response.content)
    assert field_error(doc, field) == message
    assert form_values(doc)[field] == value
    assert not Comment.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("author", "a" * 245),
        ("author", "é" * 122),  # 244 bytes
        ("email", "a" * 40 + "@" + "b" * 55 + ".com"),  # 100 bytes
        ("url", "https://example.com/" + "a" * 180),  # 200 bytes
        ("comment", "a" * 65525),
    ],
)
def test_values_at_the_byte_limit_are_accepted(post, field, value):
    response = submit(browser(), post, **{field: value})
    pk = redirected_id(response)
    stored = Comment.objects.get(pk=pk)
    column = {"author": "author", "email": "author_email", "url": "author_url", "comment": "content"}[field]
    assert getattr(stored, column) == value


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(document.cookie)",
        "ftp://example.com/file",
        "data:text/html,hi",
        "mailto:me@example.com",
        "http://",
        "https:///nohost",
    ],
)
def test_url_must_be_http_or_https(post, url):
    response = submit(browser(), post, url=url)
    assert response.status_code == 400
    doc = parse(response.content)
    assert field_error(doc, "url") == "Please enter a web address that starts with http:// or https://."
    assert form_values(doc)["url"] == url
    assert not Comment.objects.exists()


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("example.com", "https://example.com"),
        ("http://example.com/x", "http://example.com/x"),
        ("HTTPS://Example.com/a?b=1", "https://example.com/a?b=1"),
    ],
)
def test_accepted_urls_link_the_author(post, typed, stored):
    reader = browser()
    response = submit(reader, post, url=typed, author="Linked Reader")
    pk = redirected_id(response)
    assert Comment.objects.get(pk=pk).author_url.lower() == stored.lower()
    _, doc = follow(Client(), response)
    link = comment_item(doc, pk).one("cite").one("a")
    assert link.get("href").lower() == stored.lower()
    assert link.text() == "Linked Reader"


# --- 2. Success ------------------------------------------------------------------------------------------------


def test_success_redirects_to_the_comment_and_shows_it(post):
    reader = browser()
    response = submit(reader, post, author="Ann Example", url="https://ann.example.com/", comment="Well *said*.")
    pk = redirected_id(response)
    assert response["Location"] == f"{post.get_absolute_url()}#comment-{pk}"
    page, doc = follow(Client(), response)  # another reader: the reply is public
    assert page.status_code == 200
    item = comment_item(doc, pk)
    assert item is not None and item.parent is commentlist(doc)
    assert "depth-1" in item.classes and "unapproved" not in item.classes
    author = item.one("cite")
    link = author.one("a")
    assert link.get("href") == "https://ann.example.com/"
    assert link.get("rel") == "external nofollow ugc"
    assert link.text() == "Ann Example"
    date_link = item.one("div", cls="comment-metadata").one("a")
    assert date_link.get("href").endswith(f"#comment-{pk}")
    assert date_link.one("time").get("datetime")
    assert item.one("div", cls="comment-content").one("em").text() == "said"


def test_author_without_url_is_plain_text(post):
    response = submit(browser(), post, author="Plain Reader", url="")
    pk = redirected_id(response)
    _, doc = follow(Client(), response)
    cite = comment_item(doc, pk).one("cite")
    assert cite.find("a") is None
    assert cite.text() == "Plain Reader"


def test_heading_counts_public_responses_only(post, settings):
    def current():
        return heading(get(Client(), post.get_absolute_url())[1])

    assert current() == "No Responses yet"
    make_comment(post, status=Comment.Status.PENDING)
    make_comment(post, status=Comment.Status.SPAM)
    make_comment(post, status=Comment.Status.TRASH)
    assert current() == "No Responses yet"
    redirected_id(submit(browser(), post, email=unique_email()))
    assert current() == f"One Response to “{post.title}”"
    redirected_id(submit(browser(), post, email=unique_email()))
    assert current() == f"2 Responses to “{post.title}”"
    make_comment(post, kind=Comment.Kind.TRACKBACK, url="https://blog.example.com/p", blog_name="A blog")
    assert current() == f"3 Responses to “{post.title}”"


def test_the_reply_is_stored_as_typed_and_rendered(post):
    response = submit(browser(), post, author="  Spaced  ", comment="  **Bold** words  ", remote_addr="10.1.2.3")
    stored = Comment.objects.get(pk=redirected_id(response))
    assert stored.author == "Spaced"
    assert stored.content == "  **Bold** words"  # leading spaces are Markdown's to read (four make code)
    assert stored.content_html == "<p><strong>Bold</strong> words</p>"
    assert stored.ip_address == "10.1.2.3"
    assert stored.kind == Comment.Kind.COMMENT and stored.post == post


# --- 3. Errors: the page again, the message beside its field, nothing lost ----------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"author": ""}, "author", "Please enter your name."),
        ({"author": None}, "author", "Please enter your name."),
        ({"email": ""}, "email", "Please enter your email address."),
        ({"email": "not-an-email"}, "email", "Please enter a valid email address."),
        ({"email": "a@b"}, "email", "Please enter a valid email address."),
        ({"comment": ""}, "comment", "Please type your comment text."),
        ({"comment": "   \n\t  "}, "comment", "Please type your comment text."),
        ({"comment": None}, "comment", "Please type your comment text."),
    ],
)
def test_invalid_fields_are_marked_and_everything_typed_is_kept(post, overrides, field, message):
    typed = {
        "comment": "My long, carefully written reply.\nWith a second line & <angle brackets>.",
        "author": "Kept Name",
        "email": "kept@example.com",
        "url": "https://kept.example.com/",
        "wp-comment-cookies-consent": "yes",
    }
    typed.update(overrides)
    response = submit(browser(), post, **typed)
    assert response.status_code == 400
    doc = parse(response.content)
    assert field_error(doc, field) == message
    assert "Your reply was not saved" in notice(doc)
    values = form_values(doc)
    for name in ("comment", "author", "email", "url"):
        assert values[name] == (typed[name] or ""), name
    assert values["wp-comment-cookies-consent"] is True
    assert values["comment_post_ID"] == str(post.pk)
    for other in ("comment", "author", "email", "url"):
        if other != field:
            assert field_error(doc, other) is None
    assert not Comment.objects.exists()


def test_several_errors_at_once_each_beside_its_field(post):
    response = submit(browser(), post, comment="", author="", email="nope", url="ftp://x.example.com")
    assert response.status_code == 400
    doc = parse(response.content)
    assert field_error(doc, "comment") == "Please type your comment text."
    assert field_error(doc, "author") == "Please enter your name."
    assert field_error(doc, "email") == "Please enter a valid email address."
    assert field_error(doc, "url") == "Please enter a web address that starts with http:// or https://."
    assert form_values(doc)["wp-comment-cookies-consent"] is False


def test_textarea_text_is_given_back_exactly_and_inert(post):
    text = "</textarea><script>alert(1)</script>\n  indented & <b>bold</b>"
    response = submit(browser(), post, comment=text, email="")
    assert response.status_code == 400
    doc = parse(response.content)
    assert form_values(doc)["comment"] == text
    assert all(script.get("src") for script in scripts(doc))


def test_duplicate_is_refused_with_409_and_text_kept(post):
    reader = browser()
    first = submit(reader, post, comment="Same words twice.")
    redirected_id(first)
    again = submit(reader, post, comment="Same words twice.", url="https://changed.example.com/")
    assert again.status_code == 409
    doc = parse(again.content)
    assert DUPLICATE in notice(doc)
    assert form_values(doc)["comment"] == "Same words twice."
    assert form_values(doc)["url"] == "https://changed.example.com/"
    assert Comment.objects.count() == 1


def test_duplicate_ignores_the_case_of_the_email_as_flood_and_moderation_do(post):
    redirected_id(submit(browser(), post, comment="Said in capitals.", email="Reader@Example.COM"))
    again = submit(browser(), post, comment="Said in capitals.", email="reader@example.com")
    assert again.status_code == 409
    assert DUPLICATE in notice(parse(again.content))
    assert Comment.objects.count() == 1


def test_duplicate_checked_before_flood(post, settings):
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 3600
    reader = browser()
    redirected_id(submit(reader, post, comment="Said once."))
    assert submit(reader, post, comment="Said once.").status_code == 409


def test_not_a_duplicate_with_another_author_parent_or_after_trash(post):
    first = Comment.objects.get(pk=redirected_id(submit(browser(), post, comment="Echo.")))
    redirected_id(submit(browser(), post, comment="Echo.", author="Someone Else", email=unique_email()))
    redirected_id(submit(browser(), post, comment="Echo.", comment_parent=str(first.pk)))
    Comment.objects.filter(pk=first.pk).update(status=Comment.Status.TRASH)
    redirected_id(submit(browser(), post, comment="Echo."))
    assert Comment.objects.filter(content="Echo.").count() == 4


def test_flood_from_the_same_ip(post, settings):
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 3600
    redirected_id(submit(browser(), post, email=unique_email(), remote_addr="192.0.2.1"))
    response = submit(browser(), post, email=unique_email(), comment="Too soon.", remote_addr="192.0.2.1")
    assert response.status_code == 429
    doc = parse(response.content)
    assert FLOOD in notice(doc)
    assert form_values(doc)["comment"] == "Too soon."
    assert Comment.objects.count() == 1


def test_flood_from_the_same_email_on_another_ip(post, settings):
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 3600
    redirected_id(submit(browser(), post, email="same@example.com", remote_addr="192.0.2.1"))
    response = submit(browser(), post, email="Same@Example.com", comment="Again.", remote_addr="198.51.100.7")
    assert response.status_code == 429
    assert FLOOD in notice(parse(response.content))
    assert Comment.objects.count() == 1


def test_no_flood_from_another_ip_and_email(post, settings):
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 3600
    redirected_id(submit(browser(), post, email=unique_email(), remote_addr="192.0.2.1"))
    redirected_id(submit(browser(), post, email=unique_email(), remote_addr="198.51.100.7"))
    assert Comment.objects.count() == 2


def test_flood_seconds_zero_turns_it_off(post, settings):
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 0
    for n in range(3):
        redirected_id(submit(browser(), post, email="busy@example.com", comment=f"Reply {n}."))
    assert Comment.objects.count() == 3


def close_comments(post: Post) -> None:
    with TestCase.captureOnCommitCallbacks(execute=True):  # the commit moves the page cache on
        post.comments_open = False
        post.save(update_fields=["comments_open"])


def test_closed_comments_replace_the_form(post, client):
    make_comment(post, "An old public reply.")
    open_page = get(client, post.get_absolute_url())[1]
    assert reply_form(open_page) is not None
    assert open_page.find("a", cls="comment-reply-link") is not None
    close_comments(post)
    response, doc = get(Client(), post.get_absolute_url())
    assert response.status_code == 200
    assert reply_form(doc) is None
    assert doc.find(id="respond") is None
    assert "Comments are closed." in doc.one("p", cls="nocomments").text()
    assert doc.find("a", cls="comment-reply-link") is None


def test_post_to_closed_comments_is_403_and_stores_nothing(post):
    reader = browser()
    get(reader, post.get_absolute_url())
    close_comments(post)
    response = send(reader, fields_for(post, comment="Closed, but here is my text."))
    assert response.status_code == 403
    page = parse(response.content)
    assert "Sorry, comments are closed for this item." in page.squashed_text()
    assert "Closed, but here is my text." in page.one("pre", cls="kept-text").text()
    assert not Comment.objects.exists()


@pytest.mark.parametrize("post_id", ["999999", "0", "", "abc", "-1", "1.0", "²", "١", "9" * 40, None])
def test_unknown_post_is_404(post, post_id):
    reader = browser()
    get(reader, post.get_absolute_url())
    data = fields_for(post, comment_post_ID=post_id)
    response = send(reader, data)
    assert response.status_code == 404
    assert not Comment.objects.exists()


def _other_post() -> Post:
    return Post.objects.create(
        title="Another post",
        slug="another-post",
        body="x",
        source_name="other.txt",
        original=b"x",
        sha256="0" * 64,
        encoding="utf-8",
    )


@pytest.mark.parametrize(
    "kind",
    [
        "pending",
        "spam",
        "trash",
        "other-post",
        "nonexistent",
        "negative",
        "letters",
        "huge",
        "superscript",
        "trackback",
    ],
)
def test_parent_must_be_a_public_comment_of_the_same_post(post, kind):
    if kind in ("pending", "spam", "trash"):
        parent = str(make_comment(post, status=kind).pk)
    elif kind == "other-post":
        parent = str(make_comment(_other_post()).pk)
    elif kind == "trackback":
        parent = str(make_comment(post, kind=Comment.Kind.TRACKBACK, url="https://b.example.com/").pk)
    else:
        parent = {"nonexistent": "987654", "negative": "-3", "letters": "abc", "huge": "9" * 40, "superscript": "²"}[
            kind
        ]
    before = Comment.objects.count()
    response = submit(browser(), post, comment_parent=parent, comment="A reply to nothing I can see.")
    if kind == "trackback":
        # A public ping is a public response of the post: WordPress lets readers reply to it.
        redirected_id(response)
        return
    assert response.status_code == 400
    doc = parse(response.content)
    assert "The comment you are replying to is not available" in notice(doc)
    assert form_values(doc)["comment"] == "A reply to nothing I can see."
    assert Comment.objects.count() == before


# --- Where the form comes from -------------------------------------------------------------------------------


def test_no_token_is_needed_from_the_page_itself(post):
    reader = browser()
    get(reader, post.get_absolute_url())
    redirected_id(send(reader, fields_for(post)))
    assert "csrftoken" not in reader.cookies


def test_a_cross_site_post_is_403_and_the_text_shown_back_in_the_form(post):
    reader = browser()
    response = send(reader, fields_for(post, comment="Please do not lose me."), HTTP_SEC_FETCH_SITE="cross-site")
    assert response.status_code == 403
    doc = parse(response.content)
    assert form_values(doc)["comment"] == "Please do not lose me."
    assert "sent from a page of another site" in notice(doc)
    assert not Comment.objects.exists()


def test_a_refused_page_keeps_hostile_text_inert(post):
    text = "</textarea><script>alert(1)</script>"
    response = send(browser(), fields_for(post, comment=text), HTTP_ORIGIN="https://evil.example",
                    HTTP_SEC_FETCH_SITE="cross-site")  # fmt: skip
    assert response.status_code == 403
    doc = parse(response.content)
    assert form_values(doc)["comment"] == text
    assert all(script.get("src") for script in scripts(doc))


# --- No input gives a 500 ----------------------------------------------------------------------------------------

GARBAGE = [
    {"comment": ["one", "two"], "author": ["a", "b"], "email": ["x@example.com", "y"]},
    {"comment": "\x00nul", "author": "nul\x00", "email": "nul\x00@example.com", "url": "http://x\x00.com"},
    {"comment": "\u202e\u200f\ufeff RTL and BOM", "author": "\u0000\u0001\u001f", "url": "http://\u0000"},
    {"url": "http://" + "a" * 300 + ".com"},
    {"url": "http://[::1"},
    {"url": "http://1.1.1.1.1"},
    {"url": "https://xn--80ak6aa92e.com/путь"},
    {"url": "//evil.example.com"},
    {"url": "\\\\evil.example.com"},
    {"email": "@" * 200},
    {"email": "a@" + "b" * 300 + ".com"},
    {"email": "a@-b.com"},
    {"comment_parent": "9" * 400},
    {"comment_parent": "1e9"},
    {"comment_parent": " 1 "},
    {"comment_parent": "0x10"},
    {"comment_parent": ["1", "2"]},
    {"comment_post_ID": ["1", "abc"]},
    {"comment_post_ID": " 1"},
    {"wp-comment-cookies-consent": ["yes", "no"], "hp_homepage": ["", ""]},
    {"wp-comment-cookies-consent": "\x00"},
    {"comment": "[" * 5000 + "]" * 5000},
    {"comment": "*" * 20000},
    {"comment": "> " * 3000 + "deep"},
    {"comment": "- " * 2000 + "list"},
    {"comment": "`" * 10000},
    {"comment": "<" * 10000},
    {"comment": "&#" + "9" * 200 + ";"},
    {"comment": "&#x110000; &#0; &#xD800;"},
    {"comment": "http://" + "a." * 2000 + "com"},
    {"author": "<script>alert(1)</script>", "url": 'https://example.com/"><script>'},
]


@pytest.mark.parametrize("garbage", GARBAGE, ids=range(len(GARBAGE)))
def test_no_input_causes_a_server_error(post, garbage):
    reader = browser()  # the test client raises any exception a view lets out
    get(reader, post.get_absolute_url())
    data = {**fields_for(post, email=unique_email()), **garbage}
    response = send(reader, data)
    assert response.status_code in (302, 400, 404, 409, 429), response.status_code
    if response.status_code == 302:
        assert follow(reader, response)[0].status_code == 200  # and the page that shows it renders
    else:
        assert all(script.get("src") for script in scripts(parse(response.content)))


@pytest.mark.parametrize(
    "query",
    [
        "replytocom=²",
        "replytocom=" + "9" * 50,
        "replytocom=-1",
        "replytocom=abc",
        "replytocom=1&replytocom=2",
        "replytocom=%00",
        "cpage=x",
    ],
)
def test_odd_query_strings_never_fail(post, client, query):
    response = client.get(f"{post.get_absolute_url()}?{query}")
    assert response.status_code == 200


def test_get_on_the_reply_url_is_405(client, post):
    response = client.get(REPLY_URL)
    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_oversized_body_is_refused_without_storing(post):
    reader = browser()
    get(reader, post.get_absolute_url())
    data = fields_for(post, comment="x" * 300_000)
    response = send(reader, data)
    assert 400 <= response.status_code < 500
    assert not Comment.objects.exists()


# --- Emails stay private --------------------------------------------------------------------------------------


def test_emails_never_appear_in_the_public_page(post, settings):
    settings.ARCHIVE_COMMENT_MODERATION = "first-time"
    make_comment(post, "Approved earlier.", author="Known", email="known.secret@example.com")
    author = browser()
    held = submit(author, post, author="New", email="new.secret@example.com")
    redirected_id(held)
    approved = submit(browser(), post, author="Known", email="known.secret@example.com", comment="Again.")
    redirected_id(approved)
    for reader in (Client(), author):
        page = reader.get(post.get_absolute_url()).content.decode()
        assert "secret@example.com" not in page
        assert "secret%40example.com" not in page


# --- 7. Remember me --------------------------------------------------------------------------------------------


def test_consent_prefills_the_form_next_time(post):
    reader = browser()
    response = submit(
        reader,
        post,
        author="Remembered Reader",
        email="remember@example.com",
        url="https://remembered.example.com/",
        **{"wp-comment-cookies-consent": "yes"},
    )
    redirected_id(response)
    assert response.cookies[readers.REMEMBER_COOKIE].value
    assert response.cookies[readers.REMEMBER_COOKIE]["httponly"]
    _, doc = get(reader, post.get_absolute_url())
    values = form_values(doc)
    assert values["author"] == "Remembered Reader"
    assert values["email"] == "remember@example.com"
    assert values["url"] == "https://remembered.example.com/"
    assert values["wp-comment-cookies-consent"] is True
    assert values["comment"] == ""
    # Nobody else gets them.
    other = form_values(get(Client(), post.get_absolute_url())[1])
    assert other["author"] == "" and other["email"] == "" and other["wp-comment-cookies-consent"] is False


def test_no_consent_keeps_nothing_and_forgets_earlier_values(post):
    reader = browser()
    redirected_id(submit(reader, post, author="Once Remembered", **{"wp-comment-cookies-consent": "yes"}))
    assert form_values(get(reader, post.get_absolute_url())[1])["author"] == "Once Remembered"
    response = submit(reader, post, author="Changed Mind", comment="Forget me now.")
    redirected_id(response)
    morsel = response.cookies[readers.REMEMBER_COOKIE]
    assert morsel.value == "" and str(morsel["max-age"]) == "0"
    values = form_values(get(reader, post.get_absolute_url())[1])
    assert values["author"] == "" and values["email"] == "" and values["url"] == ""
    assert values["wp-comment-cookies-consent"] is False


def test_without_consent_no_remember_cookie_is_set(post):
    reader = browser()
    response = submit(reader, post, author="Private Person")
    redirected_id(response)
    assert (
        not response.cookies.get(readers.REMEMBER_COOKIE, None) or not response.cookies[readers.REMEMBER_COOKIE].value
    )
    assert form_values(get(reader, post.get_absolute_url())[1])["author"] == ""


def test_tampered_remember_cookie_prefills_nothing(post):
    reader = browser()
    redirected_id(submit(reader, post, author="Real Name", **{"wp-comment-cookies-consent": "yes"}))
    token = reader.cookies[readers.REMEMBER_COOKIE].value
    reader.cookies[readers.REMEMBER_COOKIE] = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    values = form_values(get(reader, post.get_absolute_url())[1])
    assert values["author"] == "" and values["wp-comment-cookies-consent"] is False


@pytest.mark.parametrize(
    "body",
    [
        b"comment=%ED%A0%80&author=%FF%FE&email=a%40example.com&comment_post_ID={pk}",
        b"comment=%%%&author=x&email=a%40example.com&comment_post_ID={pk}",
        b"comment=\xff\xfe\x00&author=\xc3&email=a@example.com&comment_post_ID={pk}",
        b"&&&=&==&comment_post_ID={pk}",
        b"comment_post_ID={pk}&comment_post_ID",
    ],
)
def test_undecodable_bodies_never_fail(post, body):
    reader = browser()
    get(reader, post.get_absolute_url())
    raw = body.replace(b"{pk}", str(post.pk).encode())
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = reader.post(REPLY_URL, raw, content_type="application/x-www-form-urlencoded", **SAME_ORIGIN)
    assert response.status_code in (302, 400, 404), response.status_code


def test_a_file_where_the_comment_should_be(post):
    from django.core.files.uploadedfile import SimpleUploadedFile

    reader = browser()
    get(reader, post.get_absolute_url())
    data = {
        **fields_for(post, comment=None),
        "comment": SimpleUploadedFile("c.txt", b"text in a file"),
    }
    response = send(reader, data)
    assert response.status_code == 400
    assert field_error(parse(response.content), "comment") == "Please type your comment text."


@pytest.mark.parametrize("remote_addr", ["", "unix:/run/gunicorn.sock", "not-an-ip", "127.0.0.1:5000"])
def test_a_remote_address_that_is_not_an_ip_is_not_stored(post, remote_addr):
    pk = redirected_id(submit(browser(), post, remote_addr=remote_addr))
    assert Comment.objects.get(pk=pk).ip_address is None


def test_ipv6_address_is_stored(post):
    pk = redirected_id(submit(browser(), post, remote_addr="2001:db8::1"))
    assert Comment.objects.get(pk=pk).ip_address == "2001:db8::1"


def test_flood_answer_says_when_to_retry(post, settings):
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 3600
    redirected_id(submit(browser(), post, email=unique_email()))
    response = submit(browser(), post, email=unique_email())
    assert response.status_code == 429
    assert response["Retry-After"] == "3600"


def test_too_many_fields_is_refused(post):
    reader = browser()
    get(reader, post.get_absolute_url())
    data = fields_for(post)
    data.update({f"extra{n}": "x" for n in range(150)})
    response = send(reader, data)
    assert response.status_code == 400
    assert not Comment.objects.exists()


def test_browser_line_breaks_are_stored_as_typed_by_a_script(post, settings):
    """A textarea sends CRLF; the stored text uses LF, so the duplicate rule treats both as one reply."""
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 0
    settings.ARCHIVE_COMMENT_MODERATION = "open"
    first = submit(browser(), post, comment="Line one\r\nLine two")
    assert first.status_code == 302
    assert Comment.objects.get().content == "Line one\nLine two"
    assert submit(browser(), post, comment="Line one\nLine two").status_code == 409


def test_a_refused_reply_lands_at_the_form_says_error_and_announces_its_notice(post):
    """The form posts to …#respond, so a refused page opens at the form, not 8,000 px above it; the tab
    title starts "Error:" as WordPress's does; the notice is an alert that screen readers announce."""
    _, doc = get(browser(), post.get_absolute_url())
    assert reply_form(doc).get("action").endswith("#respond")
    response = send(browser(), fields_for(post, author=""))
    assert response.status_code == 400
    doc = parse(response.content)
    assert doc.one("title").text().startswith("Error: ")
    box = doc.one(id="form-notice")
    assert box.get("role") == "alert"
    assert box.parent.get("id") == "respond"
    _, fine = get(browser(), post.get_absolute_url())
    assert not fine.one("title").text().startswith("Error")
