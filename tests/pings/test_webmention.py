"""The Webmention receiver at /webmention/ (W3C Recommendation §3.2), and verification by the worker
command. Table numbers W1–W14 are those of ../shared/reference/protocols.md §3.5."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django_tasks_db.models import DBTaskResult

from archive.models import Comment
from tests.ping_helpers import html_linking_to

FORM = "application/x-www-form-urlencoded"


def mention(client, source: str, target: str):
    """As the spec says senders must: form-encoded source and target."""
    return client.post("/webmention/", urlencode({"source": source, "target": target}), content_type=FORM)


def stored(post):
    return list(Comment.objects.filter(post=post, kind=Comment.Kind.WEBMENTION))


def test_w1_the_article_advertises_the_endpoint_absolute(client, post):
    for method in (client.get, client.head):
        response = method(post.get_absolute_url())
        assert response["Link"] == '<http://testserver/webmention/>; rel="webmention"'
    html = client.get(post.get_absolute_url()).content.decode()
    assert '<link rel="webmention" href="http://testserver/webmention/">' in html


def test_cached_hits_carry_the_discovery_headers(client, post, settings):
    settings.ARCHIVE_PAGE_CACHE = True
    first = client.get(post.get_absolute_url())
    second = client.get(post.get_absolute_url())
    assert first["Link"] == second["Link"] == '<http://testserver/webmention/>; rel="webmention"'


def test_closed_pings_advertise_nothing(client, post):
    post.pings_open = False
    post.save()
    response = client.get(post.get_absolute_url())
    assert "Link" not in response and "X-Pingback" not in response
    assert b'rel="webmention"' not in response.content


def test_w2_valid_mention_is_accepted_then_shown_after_verification(client, post, site, target, run_tasks):
    source = site.page("/post", html_linking_to(target, title="Elsewhere"))
    response = mention(client, source, target)
    assert response.status_code == 202 and "Location" not in response
    assert response["Content-Type"].startswith("text/plain")
    assert stored(post) == []  # nothing shown before verification
    run_tasks()
    [comment] = stored(post)
    assert (comment.source_url, comment.status, comment.mention_type) == (source, "approved", "mention")
    assert "Elsewhere" in client.get(post.get_absolute_url()).content.decode()


@pytest.mark.parametrize(
    "fields",
    [{}, {"source": "http://a.example/x"}, {"target": "http://testserver/x/"},
     {"source": "jwoijgoisdjlskjegisvjowuehjtkx", "target": "TARGET"},
     {"source": "http://a.example/x", "target": "owiejduvyeiwljjjcjmvbpsouehgd"},
     {"source": "mailto:a@b.c", "target": "TARGET"}, {"source": "javascript:alert(1)", "target": "TARGET"},
     {"source": "ftp://a.example/x", "target": "TARGET"}, {"source": "TARGET", "target": "TARGET"},
     {"source": "TARGET#x", "target": "TARGET"},
     {"source": "http://a.example/x", "target": "http://other.example/slug/"},
     {"source": "http://a.example/x", "target": "http://testserver/no-such-post/"},
     {"source": "http://a.example/x", "target": "http://testserver/admin/"}],
)  # fmt: skip
def test_w3_to_w8_synchronous_refusals_are_400_with_a_text_body(client, target, fields):
    data = {key: value.replace("TARGET", target) for key, value in fields.items()}
    response = client.post("/webmention/", urlencode(data), content_type=FORM)
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("text/plain") and response.content.strip()
    assert DBTaskResult.objects.count() == 0


def test_w9_fragment_of_the_target_is_ignored(client, target):
    assert mention(client, "http://a.example/x", target + "#comments").status_code == 202


def test_closed_pings_refuse_mentions(client, post, target):
    post.pings_open = False
    post.save()
    response = mention(client, "http://a.example/x", target)
    assert response.status_code == 400 and b"closed" in response.content


def test_multipart_is_read_too(client, target):
    assert client.post("/webmention/", {"source": "http://a.example/x", "target": target}).status_code == 202


def test_w13_get_is_405(client):
    response = client.get("/webmention/")
    assert response.status_code == 405 and response["Allow"] == "POST"


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", ""])
def test_w14_other_bodies_are_400(client, target, content_type):
    body = f'{{"source": "http://a.example/x", "target": "{target}"}}'
    response = client.generic("POST", "/webmention/", body, content_type=content_type)
    assert response.status_code == 400


def test_no_csrf_token_needed(target, site):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert mention(strict, site.url("/x"), target).status_code == 202


def test_w10_source_without_the_link_never_appears(client, post, site, target, run_tasks):
    source = site.page("/post", html_linking_to("http://testserver/elsewhere/"))
    assert mention(client, source, target).status_code == 202
    run_tasks()
    assert stored(post) == []
    assert DBTaskResult.objects.get().return_value == "not stored: the source does not link to the target"


def test_w11_the_same_pair_twice_is_one_mention_and_a_resend_updates(client, post, site, target, run_tasks):
    source = site.page("/post", html_linking_to(target, text="First words"))
    mention(client, source, target)
    mention(client, source, target)
    run_tasks()
    [comment] = stored(post)
    assert "First words" in comment.content
    site.page("/post", html_linking_to(target, text="Edited words"))
    mention(client, source, target)
    run_tasks()
    [again] = stored(post)
    assert again.pk == comment.pk and "Edited words" in again.content


@pytest.mark.parametrize("later", ["gone", "unlinked"])
def test_w12_gone_or_unlinked_source_removes_the_mention(client, post, site, target, run_tasks, later):
    source = site.page("/post", html_linking_to(target, title="Soon gone"))
    mention(client, source, target)
    run_tasks()
    assert "Soon gone" in client.get(post.get_absolute_url()).content.decode()
    if later == "gone":
        site.page("/post", b"gone", status=410)
    else:
        site.page("/post", html_linking_to("http://testserver/other/", title="Soon gone"))
    mention(client, source, target)
    run_tasks()
    assert [c.status for c in stored(post)] == ["trash"]
    assert "Soon gone" not in client.get(post.get_absolute_url()).content.decode()


def h_entry(target: str, prop: str, name: str, text: str = "") -> bytes:
    cls = {"reply": "u-in-reply-to", "like": "u-like-of", "repost": "u-repost-of", "bookmark": "u-bookmark-of"}
    link = f'<a class="{cls[prop]}" href="{target}">the article</a>' if prop in cls else f'<a href="{target}">it</a>'
    entry = (f'<article class="h-entry"><span class="p-author h-card"><a class="p-name u-url" '
             f'href="https://{name.lower()}.example/">{name}</a>'
             f'<img class="u-photo" src="https://{name.lower()}.example/me.jpg" alt=""></span> {link}'
             f'<div class="e-content">{text}</div>'
             f'<time class="dt-published" datetime="2024-05-06T07:08:09Z">May</time></article>')  # fmt: skip
    return html_linking_to(target, entry=entry)


def test_h_entry_reply_like_repost_are_shown_by_type(client, post, site, target, run_tasks):
    sources = {
        "reply": site.page("/reply", h_entry(target, "reply", "Alice", "I <b>disagree</b> <script>x()</script>")),
        "like": site.page("/like", h_entry(target, "like", "Bob")),
        "repost": site.page("/repost", h_entry(target, "repost", "Carol")),
        "bookmark": site.page("/bookmark", h_entry(target, "bookmark", "Dan")),
    }
    for source in sources.values():
        assert mention(client, source, target).status_code == 202
    run_tasks()
    kinds = {c.source_url: c.mention_type for c in stored(post)}
    assert kinds == {url: kind for kind, url in sources.items()}
    reply = Comment.objects.get(source_url=sources["reply"])
    assert (reply.author, reply.author_url) == ("Alice", "https://alice.example/")
    assert reply.published_at.isoformat() == "2024-05-06T07:08:09+00:00"
    html = client.get(post.get_absolute_url()).content.decode()
    assert "I disagree" in html and "<script>x()" not in html  # text only, escaped
    assert 'class="webmention' in html
    assert "Liked by" in html and "Bob" in html and "Reposted by" in html and "Carol" in html
    assert "me.jpg" not in html  # no image from another site


def test_transient_failures_retry_then_give_up_visibly(client, post, site, target, run_tasks, settings):
    source = site.page("/flaky", b"busy", status=503)
    mention(client, source, target)
    run_tasks()
    results = list(DBTaskResult.objects.order_by("enqueued_at"))
    assert [r.status for r in results] == ["SUCCESSFUL", "SUCCESSFUL", "FAILED"]
    assert results[-1].exception_class_path == "archive.tasks.GaveUp"
    assert "gave up after 3 attempts" in results[-1].traceback
    assert site.gets("/flaky") == 3
    assert stored(post) == []


def test_a_retry_that_succeeds_stores_the_mention(client, post, site, target, run_tasks):
    answers = iter([503, 200])
    from tests.ping_helpers import Page

    body = html_linking_to(target)
    site.handler("/flaky", lambda handler: Page(body, next(answers)))
    mention(client, source := site.url("/flaky"), target)
    run_tasks()
    assert [c.source_url for c in stored(post)] == [source]


def test_per_sender_rate_limit(client, target, settings):
    settings.ARCHIVE_PINGS_PER_SENDER = 2
    answers = [mention(client, f"http://a.example/{n}", target).status_code for n in range(3)]
    assert answers == [202, 202, 429]


def test_admin_shows_and_filters_kind_and_type(client, post, site, target, run_tasks, django_user_model):
    from tests.test_admin import listed

    for kind in ("reply", "like"):
        mention(client, site.page(f"/{kind}", h_entry(target, kind, kind.title())), target)
    run_tasks()
    moderator = type(client)()
    moderator.force_login(django_user_model.objects.create_superuser("mod", "m@example.com", "a-long-pass-phrase"))
    likes = [c.pk for c in stored(post) if c.mention_type == "like"]
    assert listed(moderator, mention_type="like") == likes
    assert len(listed(moderator, kind="webmention")) == 2
    page = moderator.get("/admin/archive/comment/").content.decode()
    assert "Webmention" in page and "Like" in page and "Reply" in page
    change = moderator.get(f"/admin/archive/comment/{likes[0]}/change/")
    assert change.status_code == 200 and site.url("/like") in change.content.decode()


def test_a_reply_to_a_response_sits_under_it(client, post, site, target, run_tasks):
    first = Comment.objects.create(post=post, author="Reader", content="First!", status="approved", dedupe_key="x")
    answer_to = f"{target}#comment-{first.pk}"
    mention(client, site.page("/re", h_entry(answer_to, "reply", "Eve", "Answering you")), answer_to)
    run_tasks()
    [reply] = stored(post)
    assert (reply.parent_id, reply.thread_id) == (first.pk, first.pk)
    html = client.get(post.get_absolute_url()).content.decode()
    assert html.index(f'id="comment-{first.pk}"') < html.index('<ol class="children">') < html.index("Answering you")
