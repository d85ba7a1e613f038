"""The shared page cache: hits skip the database, never leak one reader's token or page to another, carry
the full stack's headers, and are invalidated the moment a public response appears or disappears."""

import io
import re
from http.cookies import SimpleCookie

import pytest
from django.test import Client

from archive import moderation, pagecache, policy
from archive.models import Comment
from archive.wsgi import application as wsgi_application

# Invalidation runs when a transaction commits, so these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
VOLATILE = {"set-cookie", "etag", "date", "content-length"}


def token_of(response) -> str:
    return TOKEN.search(response.content).group(1).decode()


def reply_data(post, token: str, text: str, author: str = "Ann", email: str = "ann@example.com") -> dict:
    return {"csrfmiddlewaretoken": token, "comment": text, "author": author, "email": email,
            "url": "", "comment_post_ID": post.pk, "comment_parent": 0}  # fmt: skip


def stable_headers(response) -> dict:
    return {k.lower(): v for k, v in response.items() if k.lower() not in VOLATILE}


@pytest.fixture
def open_site(settings):
    settings.ARCHIVE_COMMENT_MODERATION = "open"
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 0


def test_second_anonymous_view_is_served_without_the_database(post, client, django_assert_num_queries):
    url = post.get_absolute_url()
    first = client.get(url)
    with django_assert_num_queries(0):
        second = Client().get(url)
    assert second.status_code == 200
    assert second.content.replace(token_of(second).encode(), b"") == first.content.replace(
        token_of(first).encode(), b""
    )


def test_hit_has_exactly_the_headers_of_the_full_stack(post):
    url = post.get_absolute_url()
    miss = Client().get(url)
    hit = Client().get(url)
    assert stable_headers(hit) == stable_headers(miss)
    for name in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy",
                 "Cross-Origin-Opener-Policy", "Cache-Control", "Last-Modified", "ETag"):  # fmt: skip
        assert hit.has_header(name), name
    assert not hit["ETag"].startswith("W/")
    assert "private" in hit["Cache-Control"]


def test_two_fresh_readers_of_the_cached_page_both_post(post, open_site):
    url = post.get_absolute_url()
    Client().get(url)  # fills the cache
    readers = [Client(enforce_csrf_checks=True) for _ in range(2)]
    pages = [reader.get(url) for reader in readers]
    tokens = [token_of(page) for page in pages]
    assert tokens[0] != tokens[1]
    for page, token in zip(pages, tokens, strict=True):
        assert page.cookies["csrftoken"].value == token  # each token travels with its own cookie
    for n, (reader, token) in enumerate(zip(readers, tokens, strict=True)):
        answer = reader.post("/comments/post/", reply_data(post, token, f"reply {n}", email=f"r{n}@example.com"))
        assert answer.status_code == 302, answer.content[:500]
    assert Comment.objects.count() == 2


def test_a_token_from_someone_elses_page_is_refused(post, open_site):
    url = post.get_absolute_url()
    Client().get(url)
    alice, mallory = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    alices_token = token_of(alice.get(url))
    mallory.get(url)  # mallory has a cookie of her own
    assert mallory.post("/comments/post/", reply_data(post, alices_token, "forged")).status_code == 403
    assert Client(enforce_csrf_checks=True).post("/comments/post/", reply_data(post, "", "none")).status_code == 403
    assert not Comment.objects.exists()


def test_a_reader_keeps_their_own_secret_across_cached_views(post):
    url = post.get_absolute_url()
    reader = Client(enforce_csrf_checks=True)
    first = reader.get(url)
    secret = reader.cookies["csrftoken"].value
    second = reader.get(url)
    assert token_of(second) == secret
    assert second["ETag"] == reader.get(url)["ETag"]
    assert "csrftoken" in first.cookies


def test_a_new_public_reply_is_visible_at_once(post, open_site, client):
    url = post.get_absolute_url()
    assert b"No Responses yet" in Client().get(url).content
    page = client.get(url)
    client.post("/comments/post/", reply_data(post, token_of(page), "Fresh words"))
    shown = Client().get(url)
    assert b"Fresh words" in shown.content
    assert b"One Response to" in shown.content


def test_moderation_and_removal_invalidate(post, open_site):
    url = post.get_absolute_url()
    comment = policy.accept(policy.Candidate(post=post, author="Bo", email="bo@example.com", content="Hello there"))
    assert b"Hello there" in Client().get(url).content
    moderation.set_status(Comment.objects.filter(pk=comment.pk), Comment.Status.SPAM)
    assert b"Hello there" not in Client().get(url).content
    moderation.set_status(Comment.objects.filter(pk=comment.pk), Comment.Status.APPROVED)
    assert b"Hello there" in Client().get(url).content
    comment.delete()
    assert b"Hello there" not in Client().get(url).content


def test_closing_comments_invalidates(post):
    url = post.get_absolute_url()
    assert b'id="commentform"' in Client().get(url).content
    post.comments_open = False
    post.save()
    page = Client().get(url).content
    assert b'id="commentform"' not in page
    assert b"Comments are closed." in page


def test_held_reply_shows_to_its_author_only_and_is_never_cached(post, settings):
    settings.ARCHIVE_COMMENT_MODERATION = "all"
    url = post.get_absolute_url()
    Client().get(url)
    author = Client()
    author.post("/comments/post/", reply_data(post, token_of(author.get(url)), "Waiting words"))
    own = author.get(url)
    assert b"Waiting words" in own.content
    assert b"awaiting moderation" in own.content
    assert b"Waiting words" not in Client().get(url).content
    assert b"Waiting words" in author.get(url).content


def test_remembered_details_are_personal(post, open_site):
    url = post.get_absolute_url()
    Client().get(url)
    reader = Client()
    data = reply_data(post, token_of(reader.get(url)), "Remember me", author="Cy", email="cy@example.com")
    data["wp-comment-cookies-consent"] = "yes"
    reader.post("/comments/post/", data)
    assert b'value="cy@example.com"' in reader.get(url).content
    assert b"cy@example.com" not in Client().get(url).content


def test_query_strings_bypass_the_cache(post, django_assert_max_num_queries):
    url = post.get_absolute_url()
    Client().get(url)
    with django_assert_max_num_queries(10) as queries:
        Client().get(url + "?replytocom=1")
    assert len(queries) > 0


@pytest.mark.parametrize("path_of", [lambda post: post.get_absolute_url(), lambda post: "/"])
def test_conditional_get_on_pages(post, path_of):
    reader = Client()
    url = path_of(post)
    first = reader.get(url)
    etag, modified = first["ETag"], first["Last-Modified"]
    assert reader.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert reader.get(url, HTTP_IF_MODIFIED_SINCE=modified).status_code == 304
    assert reader.get(url, HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_conditional_get_on_the_original(post, client):
    url = post.get_original_url()
    first = client.get(url)
    assert first["ETag"] == f'"{post.sha256}"'
    assert client.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    assert client.get(url, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"]).status_code == 304


def test_head_of_a_cached_page_has_no_body(post):
    url = post.get_absolute_url()
    Client().get(url)
    head = Client().head(url)
    assert head.status_code == 200
    assert head.content == b""


def call_wsgi(path: str, cookie: str = "", extra: dict | None = None):
    """A real WSGI call into the production application object (the fast path in front of Django)."""
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "testserver",
        "SERVER_PORT": "80", "HTTP_HOST": "testserver", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(), "wsgi.version": (1, 0), "wsgi.multithread": False,
        "wsgi.multiprocess": True, "wsgi.run_once": False, "SERVER_PROTOCOL": "HTTP/1.1",
    }  # fmt: skip
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    environ.update(extra or {})
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, headers

    body = b"".join(wsgi_application(environ, start_response))
    return seen["status"], seen["headers"], body


def test_fast_path_answers_with_the_full_stacks_headers(post, django_assert_num_queries):
    url = post.get_absolute_url()
    miss = Client().get(url)
    with django_assert_num_queries(0):
        status, headers, body = call_wsgi(url)
    assert status.startswith("200")
    fast = {k.lower(): v for k, v in headers if k.lower() not in VOLATILE}
    assert fast == stable_headers(miss)
    cookie = SimpleCookie()
    cookie.load(dict(headers)["Set-Cookie"])
    assert f'value="{cookie["csrftoken"].value}"'.encode() in body
    etag = dict(headers)["ETag"]
    status, _, body = call_wsgi(url, cookie=f"csrftoken={cookie['csrftoken'].value}",
                                extra={"HTTP_IF_NONE_MATCH": etag})  # fmt: skip
    assert status.startswith("304")
    assert body == b""


def test_fast_path_never_serves_personal_readers(post, open_site):
    url = post.get_absolute_url()
    Client().get(url)
    personal = Client()
    personal.post("/comments/post/", reply_data(post, token_of(personal.get(url)), "Mine",
                                                 author="Di", email="di@example.com") | {
        "wp-comment-cookies-consent": "yes"})  # fmt: skip
    cookie = "; ".join(f"{k}={v.value}" for k, v in personal.cookies.items())
    status, _, body = call_wsgi(url, cookie=cookie)
    assert status.startswith("200")
    assert b'value="di@example.com"' in body


def test_unknown_hosts_never_reach_a_cached_page(post):
    url = post.get_absolute_url()
    Client().get(url)
    status, _, _ = call_wsgi(url, extra={"HTTP_HOST": "evil.example"})
    assert status.startswith("400")


def test_lost_version_key_never_resurrects_old_pages(post, open_site):
    from django.core.cache import cache

    url = post.get_absolute_url()
    Client().get(url)
    policy.accept(policy.Candidate(post=post, author="Ed", email="ed@example.com", content="After"))
    cache.delete(pagecache.VERSION_KEY)
    assert b"After" in Client().get(url).content


def test_a_new_held_reply_leaves_the_cache_alone(post, settings):
    """Held replies change no public page: a flood of them must not push readers onto the uncached path."""
    settings.ARCHIVE_COMMENT_MODERATION = "all"
    Client().get(post.get_absolute_url())
    version = pagecache.current_version()
    held = policy.accept(policy.Candidate(post=post, author="Flo", email="flo@example.com", content="Held"))
    assert held.status == Comment.Status.PENDING
    assert pagecache.current_version() == version
    moderation.set_status(Comment.objects.filter(pk=held.pk), Comment.Status.APPROVED)
    assert pagecache.current_version() != version
