"""Valid HTML: the W3C Nu HTML Checker (vnu) finds no error in the pages as the server sent them — the index,
the article with threaded replies and a TrackBack, a reply link's page, the 404 and the form-error page."""

from __future__ import annotations

import pytest

from .helpers import field, mail_pages, post_comment, run_vnu

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_nu_html_checker_finds_no_errors(vnu_command, thread, open_page, tmp_path, settings, live_server):
    served = {}  # file name → the bytes the server sent

    def save(name: str, response) -> None:
        assert response.headers["content-type"].startswith("text/html"), response.headers
        served[name] = response.body()

    page = open_page(None)
    page.watch.expect_status(404, 400, 410)
    article = thread.post.get_absolute_url()
    save("index.html", page.goto("/"))
    save("article-with-threads-and-trackback.html", page.goto(article))
    save("article-replytocom.html", page.goto(f"{article}?replytocom={thread.answer.pk}"))
    save("not-found.html", page.goto("/no-such-post/"))
    page.goto(article)
    field(page, "Comment").fill("No name, and an email address that is not one.")
    field(page, "Email").fill("not an address")
    response = post_comment(page)
    assert response.status == 400
    save("form-error.html", response)
    # The pages of the links in mails, and the reply form with its notification box (mail configured).
    settings.ARCHIVE_MAIL_ENABLED = True
    settings.ARCHIVE_BASE_URL = live_server.url
    pages = mail_pages(thread.post)
    save("article-with-notification-box.html", page.goto(f"{article}?replytocom={thread.first.pk}"))
    for name in ("moderate", "confirm", "unsubscribe", "forget", "forget_confirm"):
        save(f"mail-{name}.html", page.goto(getattr(pages, name)))
    page.goto(pages.moderate)
    with page.expect_navigation() as approved:
        page.get_by_role("button", name="Approve").click()
    save("mail-approved.html", approved.value)
    save("mail-moderated.html", page.goto(pages.moderate))  # the used link's page (410)

    # What was checked is what a reader gets: the titles and the responses are in the saved files.
    assert b'<h1 class="pagetitle">Archived posts</h1>' in served["index.html"]
    assert f'id="comment-{thread.trackback.pk}"'.encode() in served["article-with-threads-and-trackback.html"]
    assert b'<ol class="children">' in served["article-with-threads-and-trackback.html"]
    assert b"Error 404" in served["not-found.html"]
    assert b'id="author-error"' in served["form-error.html"]
    assert b'id="subscribe"' in served["article-with-notification-box.html"]
    assert b"moderated-response" in served["mail-moderate.html"]
    assert b"This link has been used" in served["mail-moderated.html"]

    files = []
    for name, body in served.items():
        path = tmp_path / name
        path.write_bytes(body)
        files.append(path)
    messages = run_vnu(vnu_command, files)
    checked = {message["url"].rsplit("/", 1)[-1] for message in messages}
    errors = [
        f"{message['url'].rsplit('/', 1)[-1]}:{message.get('lastLine')}: {message['message']}"
        f" — {message.get('extract', '').strip()!r}"
        for message in messages
        if message["type"] in ("error", "non-document-error") or message.get("subType") == "fatal"
    ]
    assert errors == [], "\n".join(errors)
    assert checked <= set(served), checked
    page.watch.assert_clean()
