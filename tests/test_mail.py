"""Mail through a real SMTP server (aiosmtpd on 127.0.0.1) and the real worker command (`task_worker
--batch`, in this process): moderators told of held and published responses, their one-click links, the
double opt-in of reply notifications, the notifications, unsubscribing (the link and RFC 8058's POST),
"forget me", and that no mail carries another commenter's address or a header a commenter wrote.
(The worker and SMTP as separate processes, down and slow: tests/test_mail_worker.py.)"""

from __future__ import annotations

import time
from urllib.parse import urlencode, urlsplit

import pytest
from django.core import signing
from django.core.management import call_command
from django.test import Client
from django_tasks_db.models import DBTaskResult

from archive import pagecache
from archive.mail import config, messages
from archive.models import Comment, Subscription
from tests.mailhelpers import SMTPServer, assert_only_own_addresses
from tests.replyhelpers import SAME_ORIGIN, TestCase, parse, redirected_id, submit

FORM = "application/x-www-form-urlencoded"
MODERATOR = "moderator@example.net"
SENDER = "archive@example.net"
CONFIRM = "http://testserver/comments/subscription/"
CROSS_SITE = {"HTTP_ORIGIN": "https://evil.example", "HTTP_SEC_FETCH_SITE": "cross-site"}


@pytest.fixture
def smtp():
    with SMTPServer() as server:
        yield server


@pytest.fixture
def mail(settings, smtp) -> SMTPServer:
    """Mail on, to the test's SMTP server; replies held under "first-time" unless a test says otherwise."""
    settings.ARCHIVE_MAIL_ENABLED = True
    settings.EMAIL_BACKEND = config.SMTP
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", smtp.port, 5
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.DEFAULT_FROM_EMAIL = SENDER
    settings.ARCHIVE_MODERATOR_EMAILS = [MODERATOR]
    settings.ARCHIVE_NOTIFY_PUBLISHED = False
    settings.ARCHIVE_BASE_URL = "http://testserver"
    settings.ARCHIVE_MAIL_RETRY_SECONDS = 0
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 0
    settings.ARCHIVE_COMMENT_MODERATION = "first-time"
    settings.ARCHIVE_COMMENT_BLOCKLIST = []
    return smtp


def path_of(url: str) -> str:
    assert url.startswith("http://testserver/"), url
    return urlsplit(url).path


def link(mail, start: str) -> str:
    """The path of the one link on the line of the mail's body that starts with `start`."""
    lines = [line for line in mail.body.splitlines() if line.startswith(start)]
    assert len(lines) == 1, (start, mail.body)
    return path_of(lines[0].split()[-1])


def ping(client: Client, post, **fields: str):
    with TestCase.captureOnCommitCallbacks(execute=True):
        answer = client.post(post.get_trackback_url(), urlencode(fields), content_type=FORM)
    assert b"<error>0</error>" in answer.content, answer.content


def post_form(client: Client, path: str, data: dict | None = None, **headers):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(path, data or {}, **{**SAME_ORIGIN, **headers})


def deliver(run_tasks, smtp: SMTPServer) -> list:
    """Run the worker until the queue is empty; what the SMTP server got that it had not got before."""
    before = len(smtp.received)
    run_tasks()
    return smtp.received[before:]


def show(received) -> None:
    """Print each mail as the SMTP server got it (pytest -s shows them: look at them)."""
    for mail in received:
        print(f"\n----- to {mail.rcpt_tos} -----\n{mail.raw.decode('utf-8', 'replace')}")


def reply(client, post, run_tasks, smtp, **fields) -> tuple[Comment, list]:
    comment = Comment.objects.get(pk=redirected_id(submit(client, post, **fields)))
    return comment, deliver(run_tasks, smtp)


# --- EMAIL_URL ---------------------------------------------------------------------------------------------


def test_email_url_names_the_backend_and_the_connection():
    assert config.parse("") == {"EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend"}
    assert config.parse("console://")["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    plain = config.parse("smtp://mailer:p%40ss@mail.example:2525?timeout=7")
    assert plain == {"EMAIL_BACKEND": config.SMTP, "EMAIL_HOST": "mail.example", "EMAIL_PORT": 2525,
                     "EMAIL_HOST_USER": "mailer", "EMAIL_HOST_PASSWORD": "p@ss", "EMAIL_USE_TLS": False,
                     "EMAIL_USE_SSL": False, "EMAIL_TIMEOUT": 7.0}  # fmt: skip
    tls, ssl = config.parse("smtp+tls://u:p@mail.example"), config.parse("smtp+ssl://mail.example")
    assert (tls["EMAIL_PORT"], tls["EMAIL_USE_TLS"], tls["EMAIL_USE_SSL"]) == (587, True, False)
    assert (ssl["EMAIL_PORT"], ssl["EMAIL_USE_TLS"], ssl["EMAIL_USE_SSL"]) == (465, False, True)
    assert config.parse("smtp://mail.example")["EMAIL_TIMEOUT"] == 30.0
    for bad in ("imap://mail.example", "smtp://", "smtp://mail.example:notaport"):
        with pytest.raises(ValueError):
            config.parse(bad)


# --- Moderators --------------------------------------------------------------------------------------------


def test_a_held_reply_mails_the_moderators_its_text_author_ip_and_three_links(client, post, mail, run_tasks):
    comment, received = reply(client, post, run_tasks, mail, author="Ada", email="ada@example.org",
                              comment="Held for a first-timer.\n\nSecond paragraph & <b>tags</b> as typed.",
                              remote_addr="203.0.113.7")  # fmt: skip
    show(received)
    assert comment.status == Comment.Status.PENDING
    assert len(received) == 1
    held = received[0]
    assert held.rcpt_tos == [MODERATOR] and held.mail_from == SENDER
    assert held.subject == f"[The Archive] Please moderate: “{post.title}”"
    body = held.body
    assert "Author: Ada (IP address: 203.0.113.7)" in body
    assert "Held for a first-timer.\n\nSecond paragraph & <b>tags</b> as typed." in body  # plain text, unescaped
    assert f"http://testserver{post.get_absolute_url()}" in body
    assert "Currently 1 response is waiting for approval." in body
    for label in ("Approve it:", "Spam it:", "Trash it:"):
        assert link(held, label).startswith("/comments/moderate/")
    assert held.header("Auto-Submitted") == "auto-generated"
    assert "ada@example.org" not in held.raw.decode()  # moderators get no commenter's address
    assert_only_own_addresses(received, SENDER)


def test_the_approve_link_shows_a_page_then_acts_once_and_moves_the_page_cache(client, post, mail, run_tasks):
    comment, (held,) = reply(client, post, run_tasks, mail, author="Ada", email="ada@example.org")
    approve, spam = link(held, "Approve it:"), link(held, "Spam it:")
    visitor = Client()
    page = visitor.get(approve)  # what a mail scanner does: nothing changes
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"] and "private" in page["Cache-Control"]
    assert page["X-Robots-Tag"] == "noindex, nofollow" and page["Referrer-Policy"] == "no-referrer"
    doc = parse(page.content)
    assert doc.one("h1").text() == "Approve?"
    assert b'<meta name="robots" content="noindex, nofollow">' in page.content
    assert comment.content in doc.one("figure", cls="moderated-response").squashed_text()
    assert Comment.objects.get(pk=comment.pk).status == Comment.Status.PENDING

    refused = post_form(visitor, approve, **CROSS_SITE)  # a form of another site cannot act
    assert refused.status_code == 403
    assert Comment.objects.get(pk=comment.pk).status == Comment.Status.PENDING

    version = pagecache.current_version()
    done = post_form(visitor, approve)
    assert done.status_code == 200 and b"Approved" in done.content
    assert Comment.objects.get(pk=comment.pk).status == Comment.Status.APPROVED
    assert pagecache.current_version() != version  # as the admin's actions: readers see it at once
    assert comment.content in client.get(post.get_absolute_url()).content.decode()

    again = post_form(visitor, approve)  # works once
    assert again.status_code == 410 and b"This link has been used" in again.content
    assert visitor.get(spam).status_code == 410  # and so do its siblings
    assert post_form(visitor, spam).status_code == 410
    assert Comment.objects.get(pk=comment.pk).status == Comment.Status.APPROVED


def test_moderation_links_expire_and_forged_ones_are_refused(client, post, mail, run_tasks, monkeypatch, settings):
    eight_days_ago = time.time() - 8 * 86400
    with monkeypatch.context() as past:
        past.setattr(signing.time, "time", lambda: eight_days_ago)  # the mail was composed a week and a day ago
        comment, (held,) = reply(client, post, run_tasks, mail, author="Ada", email="ada@example.org")
    approve = link(held, "Approve it:")
    expired = Client().get(approve)
    assert expired.status_code == 410 and b"This link has expired" in expired.content
    assert post_form(Client(), approve).status_code == 410
    settings.ARCHIVE_MAIL_LINK_SECONDS = 9 * 86400  # a longer life set since: the same link works
    assert Client().get(approve).status_code == 200
    forged = approve.replace("approve", "spam") if "approve" in approve else approve[:-3] + "xx/"
    assert Client().get(forged).status_code == 404
    assert Client().get("/comments/moderate/garbage/").status_code == 404
    assert Comment.objects.get(pk=comment.pk).status == Comment.Status.PENDING


def test_spam_and_trash_links_and_the_published_mail(client, post, mail, run_tasks, settings):
    settings.ARCHIVE_COMMENT_MODERATION = "open"
    settings.ARCHIVE_NOTIFY_PUBLISHED = True
    comment, (published,) = reply(client, post, run_tasks, mail, author="Bo", email="bo@example.org")
    show([published])
    assert comment.status == Comment.Status.APPROVED
    assert published.subject == f"[The Archive] Comment: “{post.title}”"
    assert "Approve it:" not in published.body and f"#comment-{comment.pk}" in published.body
    assert post_form(Client(), link(published, "Spam it:")).status_code == 200
    assert Comment.objects.get(pk=comment.pk).status == Comment.Status.SPAM
    assert comment.content not in client.get(post.get_absolute_url()).content.decode()
    assert post_form(Client(), link(published, "Trash it:")).status_code == 410  # moderated since


def test_a_held_trackback_mails_the_moderators_too(client, post, mail, run_tasks):
    ping(client, post, url="https://blog.example/a-post", title="A post", excerpt="It links here.",
         blog_name="Some Blog")
    (held,) = deliver(run_tasks, mail)
    show([held])
    assert "A new trackback on the post" in held.body
    assert "Website: Some Blog" in held.body and "URL: https://blog.example/a-post" in held.body
    assert "Trackback excerpt:\nIt links here." in held.body


# --- Commenters: double opt-in, notifications, unsubscribing ---------------------------------------------


def subscribed(client, post, run_tasks, mail, settings, scope: str = "replies", **fields):
    """A commenter ticks the box (comments published at once here) and gets the confirmation mail."""
    settings.ARCHIVE_COMMENT_MODERATION = "open"
    fields = {"author": "Ann", "email": "Ann@Example.org", "subscribe": "yes", "subscribe_scope": scope, **fields}
    comment, received = reply(client, post, run_tasks, mail, **fields)
    assert [m.rcpt_tos for m in received] == [[fields["email"].lower()]]
    return comment, received[0]


def test_the_box_is_off_by_default_and_absent_without_mail(client, post, mail, settings):
    doc = parse(client.get(post.get_absolute_url()).content)
    box = doc.one("input", id="subscribe")
    assert box.get("type") == "checkbox" and "checked" not in box.attrs
    assert "Notify me of follow-up replies by email" in doc.text()
    assert "checked" in doc.one("input", id="subscribe-replies").attrs
    settings.ARCHIVE_MAIL_ENABLED = False
    pagecache.invalidate()
    assert parse(Client().get(post.get_absolute_url()).content).find("input", id="subscribe") is None


def test_without_the_box_nothing_is_subscribed(client, post, mail, run_tasks, settings):
    settings.ARCHIVE_COMMENT_MODERATION = "open"
    reply(client, post, run_tasks, mail, author="Ann", email="ann@example.org")
    assert not Subscription.objects.exists()


def test_double_opt_in_then_a_mail_for_each_public_reply_and_one_click_unsubscribe(client, post, mail, run_tasks,
                                                                                  settings):  # fmt: skip
    ann, confirmation = subscribed(client, post, run_tasks, mail, settings)
    show([confirmation])
    assert confirmation.subject == f"[The Archive] Please confirm: email notifications for “{post.title}”"
    assert "replies to your comment on the post" in confirmation.body
    unsubscribe_url = confirmation.header("List-Unsubscribe").strip("<>")
    assert confirmation.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    assert path_of(unsubscribe_url) == link(confirmation, "Stop it with one click:")

    # Before confirming: a reply to Ann sends her nothing.
    _, received = reply(client, post, run_tasks, mail, author="Bo", email="bo@example.org", comment_parent=ann.pk)
    assert received == []

    confirm = link(confirmation, CONFIRM)  # the confirmation link is on a line of its own
    assert Client().get(confirm).status_code == 200  # a scanner following it confirms nothing
    assert Subscription.objects.get().confirmed_at is None
    assert post_form(Client(), confirm, **CROSS_SITE).status_code == 403
    assert post_form(Client(), confirm).status_code == 200
    assert Subscription.objects.get().confirmed_at is not None

    cleo, received = reply(client, post, run_tasks, mail, author="Cleo", email="cleo@example.org",
                           comment="Cleo's answer to Ann.", comment_parent=ann.pk)  # fmt: skip
    show(received)
    (notice,) = received
    assert notice.rcpt_tos == ["ann@example.org"]
    assert notice.subject == f"[The Archive] Cleo replied to your comment on “{post.title}”"
    assert "Cleo's answer to Ann." in notice.body and f"#comment-{cleo.pk}" in notice.body
    assert notice.header("List-Unsubscribe") == f"<{unsubscribe_url}>"
    assert notice.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    assert "cleo@example.org" not in notice.raw.decode()

    # A top-level comment is not a reply to Ann: nothing for her.
    assert reply(client, post, run_tasks, mail, author="Dan", email="dan@example.org")[1] == []

    stop = path_of(unsubscribe_url)
    page = Client().get(stop)
    assert page.status_code == 200 and b"Unsubscribe" in page.content and Subscription.objects.exists()
    assert post_form(Client(), stop).status_code == 200
    assert not Subscription.objects.exists()
    assert reply(client, post, run_tasks, mail, author="Eve", email="eve@example.org", comment_parent=ann.pk)[1] == []
    assert Client().get(stop).status_code == 404
    assert_only_own_addresses(mail.received, SENDER)


def test_rfc_8058_one_click_post_from_a_mail_client_unsubscribes_at_once(client, post, mail, run_tasks, settings):
    _, confirmation = subscribed(client, post, run_tasks, mail, settings)
    url = confirmation.header("List-Unsubscribe").strip("<>")
    answer = Client().post(path_of(url), "List-Unsubscribe=One-Click", content_type=FORM, **CROSS_SITE)
    assert answer.status_code == 200
    assert not Subscription.objects.exists()


def test_a_held_reply_approved_later_is_notified_then(client, post, mail, run_tasks, settings):
    ann, confirmation = subscribed(client, post, run_tasks, mail, settings)
    post_form(Client(), link(confirmation, CONFIRM))
    settings.ARCHIVE_COMMENT_MODERATION = "all"
    bo, received = reply(client, post, run_tasks, mail, author="Bo", email="bo@example.org", comment_parent=ann.pk)
    assert [m.rcpt_tos for m in received] == [[MODERATOR]]  # held: only the moderators hear of it
    assert post_form(Client(), link(received[0], "Approve it:")).status_code == 200
    (notice,) = deliver(run_tasks, mail)
    assert notice.rcpt_tos == ["ann@example.org"] and f"#comment-{bo.pk}" in notice.body
    assert_only_own_addresses(mail.received, SENDER)


def test_all_new_comments_of_a_post_and_never_ones_own(client, post, mail, run_tasks, settings):
    _, confirmation = subscribed(client, post, run_tasks, mail, settings, scope="all")
    assert "all new comments on the post" in confirmation.body
    post_form(Client(), link(confirmation, CONFIRM))
    _, received = reply(client, post, run_tasks, mail, author="Bo", email="bo@example.org", comment="Top level.")
    assert [m.rcpt_tos for m in received] == [["ann@example.org"]]
    assert received[0].subject == f"[The Archive] New comment by Bo on “{post.title}”"
    assert reply(client, post, run_tasks, mail, author="Ann", email="ANN@example.org")[1] == []  # her own
    ping(client, post, url="https://known.example/p", title="T", blog_name="Known")
    (pinged,) = deliver(run_tasks, mail)
    assert pinged.rcpt_tos == ["ann@example.org"] and "New trackback by Known" in pinged.subject
    assert_only_own_addresses(mail.received, SENDER)


def test_subscribing_needs_an_address_and_keeps_the_text(client, post, mail, settings):
    settings.ARCHIVE_REQUIRE_NAME_EMAIL = False
    answer = submit(client, post, author="", email="", comment="Kept text", subscribe="yes")
    assert answer.status_code == 400
    doc = parse(answer.content)
    assert "Please enter your email address to get notifications by email." in doc.text()
    assert doc.one("textarea", id="comment").text() == "Kept text"
    assert "checked" in doc.one("input", id="subscribe").attrs


def test_a_stranger_cannot_flood_an_address_with_confirmations(client, post, mail, run_tasks, settings):
    settings.ARCHIVE_COMMENT_MODERATION = "open"
    for n in range(5):
        reply(client, post, run_tasks, mail, author=f"Troll {n}", email="victim@example.org", subscribe="yes")
    assert len([m for m in mail.received if m.rcpt_tos == ["victim@example.org"]]) == 3


def test_a_held_spam_reply_mails_no_stranger(client, post, mail, run_tasks, settings):
    settings.ARCHIVE_COMMENT_MODERATION = "all"
    _, received = reply(client, post, run_tasks, mail, author="Bot", email="victim@example.org", subscribe="yes")
    assert [m.rcpt_tos for m in received] == [[MODERATOR]]
    assert post_form(Client(), link(received[0], "Spam it:")).status_code == 200
    assert deliver(run_tasks, mail) == []


# --- Header injection --------------------------------------------------------------------------------------


def test_names_with_line_breaks_never_make_headers(client, post, mail, run_tasks, settings):
    ann, confirmation = subscribed(client, post, run_tasks, mail, settings)
    post_form(Client(), link(confirmation, CONFIRM))
    evil = "Mallory\r\nBcc: victim@example.org\r\nSubject: pwned\u2028X-Evil: 1\x85Y: 2"
    _, received = reply(client, post, run_tasks, mail, author=evil, email="mallory@example.org", comment_parent=ann.pk)
    show(received)
    (notice,) = received
    assert notice.rcpt_tos == ["ann@example.org"]
    headers = notice.raw.split(b"\r\n\r\n", 1)[0].decode()
    names = [line.split(":", 1)[0].lower() for line in headers.splitlines() if line and not line[0].isspace()]
    assert "bcc" not in names and "x-evil" not in names and names.count("subject") == 1
    assert notice.subject == (f"[The Archive] Mallory Bcc: victim@example.org Subject: pwned X-Evil: 1 Y: 2 "
                              f"replied to your comment on “{post.title}”")  # fmt: skip
    assert "victim@example.org" not in notice.rcpt_tos
    assert DBTaskResult.objects.filter(status="FAILED").count() == 0


def test_an_address_with_a_line_break_is_refused_by_the_form(client, post, mail):
    answer = submit(client, post, author="Ann", email="ann@example.org\r\nBcc: victim@example.org", subscribe="yes")
    assert answer.status_code == 400 and not Subscription.objects.exists()


def test_one_line_flattens_every_kind_of_line_break():
    assert messages.one_line("a\r\nb\nc\rd\u2028e\u2029f\x85g\x0bh\x0ci\x00j\u200bk") == "a b c d e f g h i j k"
    assert messages.one_line("x" * 10, 5) == "xxxx…"


# --- SMTP failing, in this process ---------------------------------------------------------------------------


def test_a_refusing_smtp_server_costs_retries_then_shows_in_the_task_results(client, post, mail, run_tasks,
                                                                            settings):  # fmt: skip
    settings.ARCHIVE_MAIL_ATTEMPTS = 3
    mail.stop()  # down: connections refused
    answer = submit(client, post, author="Ada", email="ada@example.org")
    assert answer.status_code == 302  # the reply is stored all the same
    run_tasks()
    failed = DBTaskResult.objects.filter(status="FAILED", task_path="archive.tasks.send_mail")
    assert failed.count() == 1
    assert "gave up after 3 attempts" in failed.get().traceback
    attempts = DBTaskResult.objects.filter(task_path="archive.tasks.send_mail")
    assert attempts.count() == 3


# --- Forget me, and erase_commenter_data ----------------------------------------------------------------------


def test_forget_me_mails_a_link_that_erases_every_subscription(client, post, mail, run_tasks, settings):
    subscribed(client, post, run_tasks, mail, settings)
    subscribed(client, post, run_tasks, mail, settings, scope="all", comment="Another one")
    form = Client().get("/comments/forget/")
    assert form.status_code == 200 and "no-store" in form["Cache-Control"]
    assert post_form(Client(), "/comments/forget/", {"email": "ann@example.org"}, **CROSS_SITE).status_code == 403
    asked = post_form(Client(), "/comments/forget/", {"email": "ANN@example.org"})
    assert asked.status_code == 200 and b"is on its way" in asked.content
    post_form(Client(), "/comments/forget/", {"email": "ann@example.org"})  # again: one mail an hour
    (forget,) = deliver(run_tasks, mail)
    show([forget])
    assert forget.rcpt_tos == ["ann@example.org"] and "subscribed to 2 comment notifications" in forget.body
    assert forget.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    erase = link(forget, "http://testserver/comments/forget/")
    assert Client().get(erase).status_code == 200 and Subscription.objects.count() == 2
    done = Client().post(erase, **CROSS_SITE)  # the mail client's one-click POST too
    assert done.status_code == 200 and not Subscription.objects.exists()


def test_forget_me_for_an_address_without_subscriptions_sends_nothing_and_says_the_same(client, post, mail,
                                                                                       run_tasks):  # fmt: skip
    asked = post_form(Client(), "/comments/forget/", {"email": "nobody@example.org"})
    assert asked.status_code == 200 and b"is on its way" in asked.content
    assert deliver(run_tasks, mail) == []
    bad = post_form(Client(), "/comments/forget/", {"email": "not an address"})
    assert bad.status_code == 400 and b"not an address" in bad.content


def test_erase_commenter_data_deletes_stale_and_named_subscriptions(client, post, mail, run_tasks, settings):
    subscribed(client, post, run_tasks, mail, settings)
    subscribed(client, post, run_tasks, mail, settings, author="Bo", email="bo@example.org")
    call_command("erase_commenter_data", verbosity=0)
    assert Subscription.objects.count() == 2  # unconfirmed, but their links still live
    call_command("erase_commenter_data", "--email", "BO@example.org", verbosity=0)
    assert list(Subscription.objects.values_list("email", flat=True)) == ["ann@example.org"]
    settings.ARCHIVE_MAIL_LINK_SECONDS = 0
    call_command("erase_commenter_data", verbosity=0)
    assert not Subscription.objects.exists()


def test_subscriptions_are_in_the_admin(admin_client, client, post, mail, run_tasks, settings):
    subscribed(client, post, run_tasks, mail, settings)
    page = admin_client.get("/admin/archive/subscription/")
    assert page.status_code == 200 and b"ann@example.org" in page.content
    assert admin_client.get("/admin/django_tasks_database/dbtaskresult/").status_code == 200


def test_a_reply_post_only_writes_one_task_row_and_sends_nothing(client, post, mail, settings):
    settings.ARCHIVE_COMMENT_MODERATION = "open"
    submit(client, post, author="Ann", email="ann@example.org", subscribe="yes")
    assert list(DBTaskResult.objects.values_list("task_path", flat=True)) == ["archive.tasks.announce"]
    assert mail.received == []


def test_approving_in_the_admin_notifies_the_subscribers(admin_client, client, post, mail, run_tasks, settings):
    ann, confirmation = subscribed(client, post, run_tasks, mail, settings)
    post_form(Client(), link(confirmation, CONFIRM))
    settings.ARCHIVE_COMMENT_MODERATION = "all"
    bo, _ = reply(client, post, run_tasks, mail, author="Bo", email="bo@example.org", comment_parent=ann.pk)
    with TestCase.captureOnCommitCallbacks(execute=True):
        done = admin_client.post("/admin/archive/comment/", {"action": "mark_approved", "_selected_action": [bo.pk]})
    assert done.status_code == 302
    (notice,) = deliver(run_tasks, mail)
    assert notice.rcpt_tos == ["ann@example.org"] and f"#comment-{bo.pk}" in notice.body


def test_a_mail_that_would_carry_a_header_fails_alone_and_the_worker_goes_on(client, post, mail, run_tasks,
                                                                            settings):  # fmt: skip
    """A subscription row whose address holds a line break (written past the form, say by hand or by an
    old import): Django cannot address that mail, its task fails for good (not retried), the others go out."""
    ann, confirmation = subscribed(client, post, run_tasks, mail, settings)
    post_form(Client(), link(confirmation, CONFIRM))
    Subscription.objects.create(post=post, comment=ann, email="eve@example.org\nBcc: victim@example.org",
                                scope=Subscription.Scope.ALL, confirmed_at=ann.created_at)  # fmt: skip
    _, received = reply(client, post, run_tasks, mail, author="Bo", email="bo@example.org", comment_parent=ann.pk)
    assert [m.rcpt_tos for m in received] == [["ann@example.org"]]
    failed = DBTaskResult.objects.get(status="FAILED")
    assert failed.exception_class_path == "archive.tasks.GaveUp" and "cannot be sent" in failed.traceback
    assert all("victim@example.org" not in m.rcpt_tos for m in mail.received)
