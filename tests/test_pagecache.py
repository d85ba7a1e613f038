"""One page for every reader: public pages are the same bytes for everyone, cacheable by any proxy,
revalidated with 304s by cookieless clients, answered without the database, and invalidated the moment a
public response appears or disappears. Personal pages stay personal."""

import io
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils.http import http_date

from archive import moderation, pagecache, policy, readers
from archive.importing import import_file
from archive.models import Comment, Post
from archive.wsgi import application as wsgi_application
from tests.replyhelpers import SAME_ORIGIN

# Invalidation runs when a transaction commits, so these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)

VOLATILE = {"date", "content-length"}
PUBLIC_CACHE_CONTROL = "public, max-age=0, must-revalidate"


def reply_data(post, text: str, author: str = "Ann", email: str = "ann@example.com") -> dict:
    return {"comment": text, "author": author, "email": email, "url": "", "comment_post_ID": post.pk,
            "comment_parent": 0}  # fmt: skip


def post_reply(client: Client, post, text: str, **fields):
    return client.post("/comments/post/", {**reply_data(post, text), **fields}, **SAME_ORIGIN)


def stable_headers(response) -> dict:
    return {k.lower(): v for k, v in response.items() if k.lower() not in VOLATILE}


@pytest.fixture
def open_site(settings):
    settings.ARCHIVE_COMMENT_MODERATION = "open"
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 0


@pytest.fixture
def threaded(post, open_site, settings):
    """The article with two pages of threads, so that comment pages exist."""
    settings.ARCHIVE_COMMENTS_PER_PAGE = 1
    for n in range(2):
        policy.accept(policy.Candidate(post=post, author=f"A{n}", email=f"a{n}@example.com", content=f"Words {n}"))
    return post


PUBLIC = [
    "/", "{article}", "/{slug}/comment-page-1/", "/feed/", "/feed/atom/", "/comments/feed/", "/comments/feed/atom/",
    "/{slug}/feed/", "/{slug}/feed/atom/", "/sitemap.xml", "/robots.txt",
]  # fmt: skip


def public_urls(post) -> list[str]:
    return [url.format(article=post.get_absolute_url(), slug=post.slug) for url in PUBLIC]


# --- The same bytes for everyone ----------------------------------------------------------------------


def test_public_pages_are_byte_identical_for_every_cookieless_reader(threaded):
    for url in public_urls(threaded):
        first, second = Client().get(url), Client().get(url)
        assert first.status_code == second.status_code == 200, url
        assert first.content == second.content, url
        assert first["ETag"] == second["ETag"], url
        for response in (first, second):
            assert not response.cookies, url
            assert "Set-Cookie" not in response, url
            assert "csrfmiddlewaretoken" not in response.content.decode(), url
            assert response["Cache-Control"] == PUBLIC_CACHE_CONTROL, url
            assert "cookie" not in response.get("Vary", "").lower(), url
            assert response.has_header("Last-Modified") or url == "/robots.txt", url
            assert not response["ETag"].startswith("W/"), url


def test_the_404_page_is_the_same_for_everyone_too(post):
    first, second = Client().get("/no-such-post/"), Client().get("/no-such-post/")
    assert first.status_code == second.status_code == 404
    assert first.content == second.content
    assert not first.cookies


def test_shared_caches_may_keep_pages_when_the_operator_says_so(post, settings):
    settings.ARCHIVE_SHARED_CACHE_SECONDS = 30
    response = Client().get(post.get_absolute_url())
    assert set(response["Cache-Control"].split(", ")) == {"public", "max-age=0", "must-revalidate", "s-maxage=30"}


def test_a_cache_hit_needs_no_database(post, django_assert_num_queries):
    url = post.get_absolute_url()
    first = Client().get(url)
    with django_assert_num_queries(0):
        second = Client().get(url)
    assert second.content == first.content


def test_a_hit_has_exactly_the_headers_of_the_full_stack(post):
    url = post.get_absolute_url()
    pagecache.invalidate()
    miss = Client().get(url)
    hit = Client().get(url)
    assert stable_headers(hit) == stable_headers(miss)
    for name in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy",
                 "Cross-Origin-Opener-Policy", "Cache-Control", "Last-Modified", "ETag"):  # fmt: skip
        assert hit.has_header(name), name


# --- Conditional requests without cookies ---------------------------------------------------------------


@pytest.mark.parametrize("which", range(len(PUBLIC)), ids=PUBLIC)
def test_cookieless_revalidation_answers_304(threaded, which):
    url = public_urls(threaded)[which]
    first = Client().get(url)
    etag, modified = first["ETag"], first.get("Last-Modified", "")  # robots.txt has none: nothing changes it
    for headers in (
        {"HTTP_IF_NONE_MATCH": etag},
        {"HTTP_IF_NONE_MATCH": f"W/{etag}"},  # weak comparison, RFC 9110 §13.1.2 (nginx weakens when it gzips)
        {"HTTP_IF_NONE_MATCH": f'"other", {etag}'},
        {"HTTP_IF_NONE_MATCH": "*"},
        *([{"HTTP_IF_MODIFIED_SINCE": modified}] if modified else []),
    ):
        again = Client().get(url, **headers)
        assert again.status_code == 304, (url, headers)
        assert again.content == b""
        assert not again.cookies  # a 304 that set a cookie would break the page the browser kept
        assert again["ETag"] == etag
    assert Client().get(url, HTTP_IF_NONE_MATCH='"other"').status_code == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
    if modified:
        assert Client().get(url, HTTP_IF_NONE_MATCH='"other"', HTTP_IF_MODIFIED_SINCE=modified).status_code == 200


def test_the_form_of_a_page_kept_by_the_browser_still_posts(post, open_site):
    """A browser keeps the page and revalidates it (304): the form it then submits must still be accepted."""
    url = post.get_absolute_url()
    reader = Client(enforce_csrf_checks=True)
    first = reader.get(url)
    assert reader.get(url, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"]).status_code == 304
    assert post_reply(reader, post, "From the kept page").status_code == 302
    assert Comment.objects.get().content == "From the kept page"


def test_head_answers_without_a_body(post):
    url = post.get_absolute_url()
    Client().get(url)
    head = Client().head(url)
    assert head.status_code == 200
    assert head.content == b""
    assert int(head["Content-Length"]) == len(Client().get(url).content)


# --- Last-Modified follows every visible change ------------------------------------------------------------


def last_modified(url: str) -> str:
    return Client().get(url)["Last-Modified"]


def age_the_post(post, seconds: int = 5) -> None:
    """Back-date the post, so that a change now is a later second in Last-Modified."""
    Post.objects.filter(pk=post.pk).update(updated_at=post.updated_at - timedelta(seconds=seconds))
    pagecache.invalidate()


def test_last_modified_moves_when_comments_are_closed(post):
    age_the_post(post)
    url = post.get_absolute_url()
    before = last_modified(url)
    post.refresh_from_db()
    post.comments_open = False
    post.save()
    after = Client().get(url, HTTP_IF_MODIFIED_SINCE=before)
    assert after.status_code == 200
    assert b"Comments are closed." in after.content
    assert after["Last-Modified"] != before


def test_last_modified_moves_when_the_seed_is_imported_again(post, tmp_path):
    age_the_post(post)
    url = post.get_absolute_url()
    before = last_modified(url)
    changed = tmp_path / post.source_name
    changed.write_bytes(bytes(post.original) + b"\nOne more line.\n")
    assert import_file(changed).outcome == "updated"
    after = Client().get(url, HTTP_IF_MODIFIED_SINCE=before)
    assert after.status_code == 200
    assert b"One more line." in after.content
    for url in ("/", post.get_absolute_url()):
        assert Client().get(url, HTTP_IF_MODIFIED_SINCE=before).status_code == 200


def test_last_modified_moves_when_a_response_is_moderated_away(post, open_site):
    comment = policy.accept(policy.Candidate(post=post, author="Bo", email="bo@example.com", content="Soon spam"))
    post.refresh_from_db()
    age_the_post(post)
    url = post.get_absolute_url()
    before = last_modified(url)
    moderation.set_status(Comment.objects.filter(pk=comment.pk), Comment.Status.SPAM)
    after = Client().get(url, HTTP_IF_MODIFIED_SINCE=before)
    assert after.status_code == 200
    assert b"Soon spam" not in after.content


# --- Invalidation ----------------------------------------------------------------------------------------


def test_a_new_public_reply_is_visible_at_once(post, open_site):
    url = post.get_absolute_url()
    assert b"No Responses yet" in Client().get(url).content
    assert post_reply(Client(), post, "Fresh words").status_code == 302
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


def test_a_lost_version_never_resurrects_old_pages(post, open_site):
    url = post.get_absolute_url()
    Client().get(url)
    policy.accept(policy.Candidate(post=post, author="Ed", email="ed@example.com", content="After"))
    os.unlink(pagecache.versions.link)
    assert b"After" in Client().get(url).content


# --- Personal pages ----------------------------------------------------------------------------------------


def test_every_personal_cookie_carries_the_documented_prefix():
    assert readers.PERSONAL_COOKIES
    assert all(name.startswith(readers.PERSONAL_PREFIX) for name in readers.PERSONAL_COOKIES)


def test_a_held_reply_shows_to_its_author_only_on_a_private_page(post, settings):
    settings.ARCHIVE_COMMENT_MODERATION = "all"
    url = post.get_absolute_url()
    Client().get(url)
    author = Client()
    assert post_reply(author, post, "Waiting words").status_code == 302
    assert all(name.startswith(readers.PERSONAL_PREFIX) for name in author.cookies)
    own = author.get(url)
    assert b"Waiting words" in own.content
    assert b"awaiting moderation" in own.content
    assert own["Cache-Control"] == "private, no-cache"
    stranger = Client().get(url)
    assert b"Waiting words" not in stranger.content
    assert stranger["Cache-Control"] == PUBLIC_CACHE_CONTROL


def test_remembered_details_are_personal(post, open_site):
    url = post.get_absolute_url()
    Client().get(url)
    reader = Client()
    consent = {"wp-comment-cookies-consent": "yes"}
    post_reply(reader, post, "Remember me", author="Cy", email="cy@example.com", **consent)
    mine = reader.get(url)
    assert b'value="cy@example.com"' in mine.content
    assert "private" in mine["Cache-Control"]
    assert b"cy@example.com" not in Client().get(url).content


@pytest.mark.parametrize("odd", ['prefs={"a":1}', "x=a b", "q=é", "broken", '"quoted"=1'])
def test_cookies_python_cannot_parse_never_hide_personal_ones(post, open_site, odd):
    """SimpleCookie gives up on the whole header for one odd cookie; Django's parser (and the fast path's
    prefix check) do not, so a remembered reader still gets their own page."""
    url = post.get_absolute_url()
    Client().get(url)
    reader = Client()
    post_reply(reader, post, f"Odd {odd}", author="Gil", email="gil@example.com",
               **{"wp-comment-cookies-consent": "yes"})  # fmt: skip
    mine = "; ".join(f"{name}={morsel.value}" for name, morsel in reader.cookies.items())
    for cookie in (f"{odd}; {mine}", f"{mine}; {odd}"):
        status, headers, body = call_wsgi(url, cookie=cookie)
        assert status.startswith("200")
        assert b'value="gil@example.com"' in body, cookie
        assert dict(headers)["Cache-Control"] == "private, no-cache"


def test_query_strings_bypass_the_store_but_stay_public(post, django_assert_max_num_queries):
    url = post.get_absolute_url()
    Client().get(url)
    with django_assert_max_num_queries(10) as queries:
        response = Client().get(url + "?replytocom=1")
    assert len(queries) > 0
    assert response["Cache-Control"] == PUBLIC_CACHE_CONTROL


# --- Cross-origin protection of the reply form ---------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_ORIGIN": "https://evil.example"},
        {"HTTP_ORIGIN": "null"},
        {"HTTP_ORIGIN": "http://testserver.evil.example"},
        {"HTTP_ORIGIN": "http://testserver:8080"},  # another port is another origin
        {"HTTP_SEC_FETCH_SITE": "cross-site"},
        {"HTTP_SEC_FETCH_SITE": "same-site"},
        {"HTTP_SEC_FETCH_SITE": "cross-site", "HTTP_ORIGIN": "http://testserver"},  # the browser's word wins
    ],
)
def test_cross_site_posts_are_refused_and_the_text_kept(post, open_site, headers):
    text = "Typed with care <and> kept & shown back"
    response = Client().post("/comments/post/", reply_data(post, text), **headers)
    assert response.status_code == 403
    assert not Comment.objects.exists()
    page = response.content.decode()
    assert "Typed with care &lt;and&gt; kept &amp; shown back</textarea>" in page
    assert "sent from a page of another site" in page
    assert response["Cache-Control"].startswith("max-age=0") or "no-store" in response["Cache-Control"]


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_SEC_FETCH_SITE": "same-origin"},
        {"HTTP_SEC_FETCH_SITE": "none"},
        {"HTTP_ORIGIN": "http://testserver"},
        {"HTTP_ORIGIN": "http://TestServer"},
        {},  # curl, a script: no browser, no victim's cookies
    ],
)
def test_same_origin_and_header_less_posts_are_accepted(post, open_site, headers):
    response = Client(enforce_csrf_checks=True).post("/comments/post/", reply_data(post, str(headers)), **headers)
    assert response.status_code == 302
    assert Comment.objects.count() == 1


def test_trusted_origins_may_post(post, open_site, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://blog.example"]
    headers = {"HTTP_ORIGIN": "https://blog.example", "HTTP_SEC_FETCH_SITE": "cross-site"}
    assert Client().post("/comments/post/", reply_data(post, "From the blog"), **headers).status_code == 302


def test_the_admin_keeps_its_token_check(db):
    response = Client(enforce_csrf_checks=True).post("/admin/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403


# --- The production fast path -------------------------------------------------------------------------------


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


def test_the_fast_path_answers_with_the_full_stacks_bytes_and_headers(post, django_assert_num_queries):
    url = post.get_absolute_url()
    miss = Client().get(url)
    with django_assert_num_queries(0):
        status, headers, body = call_wsgi(url)
    assert status == "200 OK"
    assert body == miss.content
    assert {k.lower(): v for k, v in headers if k.lower() not in VOLATILE} == stable_headers(miss)
    with django_assert_num_queries(0):
        status, headers, body = call_wsgi(url, extra={"HTTP_IF_NONE_MATCH": miss["ETag"]})
    assert status == "304 Not Modified"
    assert body == b""
    assert dict(headers)["ETag"] == miss["ETag"]


def test_the_fast_path_never_serves_personal_readers(post, open_site):
    url = post.get_absolute_url()
    Client().get(url)
    personal = Client()
    post_reply(personal, post, "Mine", author="Di", email="di@example.com", **{"wp-comment-cookies-consent": "yes"})
    cookie = "; ".join(f"{k}={v.value}" for k, v in personal.cookies.items())
    status, _, body = call_wsgi(url, cookie=cookie)
    assert status.startswith("200")
    assert b'value="di@example.com"' in body


def test_unknown_hosts_never_reach_a_stored_page(post):
    url = post.get_absolute_url()
    Client().get(url)
    status, _, _ = call_wsgi(url, extra={"HTTP_HOST": "evil.example"})
    assert status.startswith("400")


@pytest.mark.parametrize("path", ["/" + "a" * 5000 + "/", "/x\x00y/", "/%00/", "/static/nothing-here.css"])
def test_odd_paths_are_answered_without_touching_the_shared_store(post, path, settings):
    """Store keys are digests, and only URLs of public pages are looked up at all."""
    assert Client().get(path).status_code in (400, 404)


def test_store_keys_are_short_whatever_the_path():
    key = pagecache.shared_key("v", "http", "testserver", "/" + "é\x00" * 5000)
    assert len(key) < 250 and key.isascii() and " " not in key


# --- Files for nginx --------------------------------------------------------------------------------------


def page_file(post) -> Path:
    """An article whose pings are open carries discovery headers, which nginx adds for `.pings.` files."""
    version = pagecache.current_version()
    name = "index.pings.html" if post.pings_open else "index.html"
    return Path(pagecache.versions.directory, version, "http", "testserver", post.slug, name)


def test_public_pages_are_written_where_nginx_looks(post):
    response = Client().get(post.get_absolute_url())
    target = page_file(post)
    assert target.read_bytes() == response.content
    assert http_date(target.stat().st_mtime) == response["Last-Modified"]
    index_page = Client().get("/")
    index = Path(pagecache.versions.directory, pagecache.current_version(), "http", "testserver", "index.html")
    assert index.read_bytes() == index_page.content


def test_an_article_with_pings_closed_is_a_plain_file(post):
    post.pings_open = False
    post.save()
    response = Client().get(post.get_absolute_url())
    assert not response.has_header("X-Pingback")
    assert page_file(post).name == "index.html"
    assert page_file(post).read_bytes() == response.content


def test_invalidation_takes_the_files_away_from_nginx_at_once(post, open_site):
    Client().get(post.get_absolute_url())
    old = page_file(post)
    assert old.exists()
    policy.accept(policy.Candidate(post=post, author="Hal", email="hal@example.com", content="New"))
    assert not page_file(post).exists()  # the symlink nginx follows now names an empty version
    deadline = time.monotonic() + 5
    while old.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not old.exists()  # and the old version's files are gone


def test_feeds_become_files_nginx_serves_with_their_type(post):
    Client().get("/feed/")
    Client().get("/feed/atom/")
    base = Path(pagecache.versions.directory, pagecache.current_version(), "http", "testserver")
    assert (base / "feed" / "index.rss").read_bytes() == Client().get("/feed/").content
    assert (base / "feed" / "atom" / "index.atom").exists()


def test_a_page_with_a_header_nginx_would_not_send_is_no_file(post):
    response = Client().get("/sitemap.xml")
    assert response.has_header("X-Robots-Tag")  # Django's sitemap view sends it
    assert not Path(pagecache.versions.directory, pagecache.current_version(), "http", "testserver",
                    "sitemap.xml").exists()  # fmt: skip
    assert Client().get("/sitemap.xml", HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304  # still stored


def test_personal_and_error_pages_never_become_files(post, settings):
    settings.ARCHIVE_COMMENT_MODERATION = "all"
    author = Client()
    post_reply(author, post, "Only mine")
    author.get(post.get_absolute_url())
    Client().get("/no-such-post/")
    written = [p for p in Path(pagecache.versions.directory, pagecache.current_version()).rglob("*") if p.is_file()]
    assert all(b"Only mine" not in p.read_bytes() for p in written)
    assert not any("no-such-post" in str(p) for p in written)
