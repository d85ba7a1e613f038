"""`import_wxr`: a WordPress export → posts and comments, field by field; idempotent; hostile files refused
with the line and nothing partial. The export is tests/samples/wxr/blog.xml, hand-made after WordPress 6.1's
export.php (no PHP on this machine to run the real one)."""

import hashlib
import subprocess
import sys
import tracemalloc
from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.test import Client

from archive.interchange.wxrstream import WxrReader
from archive.models import Comment, Post
from tests.wxrhelpers import BLOG, run, write_generated_export

pytestmark = pytest.mark.django_db
SITE = "http://blog.example"


def snapshot():
    posts = [{**row, "original": bytes(row["original"])} for row in Post.objects.order_by("pk").values()]
    return posts, list(Comment.objects.order_by("pk").values())


def test_posts_arrive_with_every_field():
    out, err, failed = run("import_wxr", BLOG)
    assert not failed, err
    assert out[:3] == [
        f"{SITE}/?p=4 (hello-archive): created",
        f"{SITE}/?p=8 (post): created",
        f"{SITE}/?p=9: skipped: status draft: only published posts are archived",
    ]
    assert out[3].startswith(f"{BLOG}: read: WXR 1.2, SHA-256 {hashlib.sha256(BLOG.read_bytes()).hexdigest()}")
    assert Post.objects.count() == 2  # the page needs --pages; the draft is not archived
    post = Post.objects.get(slug="hello-archive")
    assert post.title == "Hello, archive: “quotes” & naïve café"
    assert post.source_name == f"{SITE}/?p=4" and post.wp_post_id == 4
    assert post.published_at == datetime(2016, 1, 12, 10, 0, tzinfo=UTC)  # wp:post_date_gmt, not local time
    assert post.author_name == "Zoë Ångström"  # the display name, not the login "zoe"
    assert post.categories == ["Notes & Näive"] and post.tags == ["archives", "café"]
    assert post.source_url == f"{SITE}/2016/01/12/hello-archive/" and post.source_path == "/2016/01/12/hello-archive/"
    assert post.comments_open and post.pings_open
    raw = bytes(post.original)
    assert raw in BLOG.read_bytes() and raw.startswith(b"<item>") and raw.endswith(b"</item>")
    assert b"<wp:post_id>4</wp:post_id>" in raw and post.sha256 == hashlib.sha256(raw).hexdigest()


def test_post_html_is_sanitised_paragraphed_and_loads_nothing_foreign():
    run("import_wxr", BLOG)
    html = Post.objects.get(slug="hello-archive").content_html
    assert html.startswith("<p>The first paragraph, with <strong>bold</strong>")  # wpautop: no <p> in the export
    assert "<br>\nA second line" in html
    assert '<a href="http://blog.example/wp-content/uploads/2016/01/cat.jpg">A cat on a mat</a>' in html
    assert "<img" not in html and "<script" not in html and "alert" not in html
    assert "style=" not in html and "onclick" not in html and "class=" not in html
    assert '<p>[gallery ids="5,6"]</p>' in html  # a shortcode is text, never run
    assert "<pre><code>if (a &lt; b) {\n\n  return;\n}</code></pre>" in html  # not paragraphed inside <pre>
    assert "<h2>A heading</h2>" in html and "<li>two &amp; three</li>" in html
    block = Post.objects.get(wp_post_id=8)
    assert block.content_html.startswith("<p>Block editor content: <em>already</em> in paragraphs.</p>")
    assert "wp:paragraph" not in block.content_html  # the block editor's comments are dropped
    assert block.slug == "post"  # a Cyrillic slug has no ASCII letters: the archive's fallback
    assert not block.comments_open and block.pings_open


def test_comments_keep_author_type_state_and_threading():
    run("import_wxr", BLOG)
    post = Post.objects.get(slug="hello-archive")
    by_id = {c.wp_comment_id: c for c in post.comments.all()}
    assert sorted(by_id) == [7, 9, 10, 11, 12, 13, 14, 15]
    ann = by_id[7]
    assert (ann.author, ann.author_email, ann.author_url, ann.ip_address) == (
        "Ann Reader", "ann@reader.example", "http://ann.example/", "192.0.2.7")  # fmt: skip
    assert ann.created_at == datetime(2016, 1, 12, 11, 5, tzinfo=UTC)
    assert ann.kind == "comment" and ann.status == "approved" and ann.parent is None
    assert ann.content.startswith("Great post! See www.ann.example")  # WordPress's HTML, kept as written
    assert ann.content_html == (
        '<p>Great post! See <a href="http://www.ann.example" rel="nofollow ugc">www.ann.example</a></p>\n'
        "<p><em>Really</em> — danke schön.</p>"
    )
    reply, deeper = by_id[9], by_id[10]
    assert reply.parent == ann and reply.thread == ann and reply.ip_address == "2001:db8::1"
    assert deeper.parent == reply and deeper.thread == ann
    assert reply.content_html == '<p>Thanks, Ann! <a href="http://x.example/t.gif" rel="nofollow ugc">smile</a></p>'
    assert [by_id[i].status for i in (11, 12, 15)] == ["pending", "spam", "trash"]
    pingback, trackback = by_id[13], by_id[14]
    assert pingback.kind == "pingback" and pingback.blog_name == "Other Blog » A post that links here"
    assert pingback.content == "[…] as Zoë wrote in her archive post […]"
    assert pingback.author_url == "http://other.example/2016/01/14/links-here/"
    assert trackback.kind == "trackback" and trackback.title == "Trackback title"
    assert trackback.content == "An excerpt of the pinging post." and trackback.blog_name == "Third Blog"


def test_pages_come_only_with_the_flag():
    out, _, _ = run("import_wxr", BLOG, "--pages")
    assert f"{SITE}/?page_id=2 (about): created" in out
    assert Post.objects.get(slug="about").title == "About"


def test_importing_twice_changes_nothing():
    run("import_wxr", BLOG)
    before = snapshot()
    out, _, failed = run("import_wxr", BLOG)
    assert not failed
    assert out[:2] == [f"{SITE}/?p=4 (hello-archive): unchanged", f"{SITE}/?p=8 (post): unchanged"]
    assert snapshot() == before


def test_a_changed_export_updates_what_changed(tmp_path):
    run("import_wxr", BLOG)
    post = Post.objects.get(slug="hello-archive")
    ids = dict(post.comments.values_list("wp_comment_id", "pk"))
    changed = tmp_path / "changed.xml"
    changed.write_bytes(BLOG.read_bytes().replace(b"A reply to the reply.", b"A reply, edited."))
    out, _, _ = run("import_wxr", changed)
    assert out[:2] == [f"{SITE}/?p=4 (hello-archive): updated", f"{SITE}/?p=8 (post): unchanged"]
    post.refresh_from_db()
    assert dict(post.comments.values_list("wp_comment_id", "pk")) == ids  # updated in place, none added
    assert post.comments.get(wp_comment_id=10).content_html == "<p>A reply, edited.</p>"
    assert b"A reply, edited." in bytes(post.original)


def test_a_clashing_slug_gets_a_suffix(post):
    Post.objects.filter(pk=post.pk).update(slug="hello-archive")
    run("import_wxr", BLOG)
    assert Post.objects.get(wp_post_id=4).slug == "hello-archive-2"


def test_the_page_shows_the_imported_post():
    run("import_wxr", BLOG)
    page = Client().get("/hello-archive/").content.decode()
    assert '<time class="dt-published" datetime="2016-01-12T10:00:00+00:00">January 12, 2016</time>' in page
    assert "by <span class=\"p-author h-card\">Zoë Ångström</span>" in page
    assert "<p>[gallery ids=&quot;5,6&quot;]</p>" not in page and '[gallery ids="5,6"]' in page
    assert f'href="{SITE}/2016/01/12/hello-archive/"' in page  # the original address, in the archive note
    assert "Awaiting moderation." not in page and "Buy now" not in page and "Trashed." not in page
    assert "5 Responses to" in page and "Trackback title" in page
    assert '"datePublished": "2016-01-12T10:00:00+00:00"' in page
    assert '"author": {"@type": "Person", "name": "Zoë Ångström"}' in page


def test_rerendering_keeps_imported_comments_as_wordpress_html():
    run("import_wxr", BLOG)
    before = dict(Comment.objects.values_list("pk", "content_html"))
    out, _, _ = run("rerender_comments")
    assert out == ["0 of 6 replies changed."]
    assert dict(Comment.objects.values_list("pk", "content_html")) == before


HOSTILE = {
    "billion-laughs": (
        b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n <!ENTITY lol2 "&lol;&lol;&lol;">\n]>\n'
        b"<rss><channel><title>&lol2;</title></channel></rss>",
        "line 2: refused: the file declares a DTD",
    ),
    "external-entity": (
        b'<?xml version="1.0"?>\n\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<rss>&x;</rss>',
        "line 3: refused: the file declares a DTD",
    ),
    "wrong-root": (b'<?xml version="1.0"?>\n<html><body/></html>', "line 2: not a WordPress export: the root"),
    "rss-not-wxr": (
        b"<rss>\n<channel><link>http://x</link>\n<item><title>t</title></item></channel></rss>",
        "line 3: not a WordPress export: no wp:base_blog_url before the first item",
    ),
    "not-xml": (b"\x89PNG\r\n\x1a\n", "line 1: not well-formed"),
    "empty": (b"", "line 1: no element found"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_and_malformed_files_are_refused_with_the_line(tmp_path, name):
    content, message = HOSTILE[name]
    path = tmp_path / f"{name}.xml"
    path.write_bytes(content)
    out, err, failed = run("import_wxr", path)
    assert failed and out == []
    assert err[0].startswith(f"{path}: error: {message}"), err
    assert not Post.objects.exists()


def test_a_truncated_file_keeps_the_posts_before_the_break_and_nothing_of_the_broken_one(tmp_path):
    data = BLOG.read_bytes()
    cut = data.index(b"A reply to the reply.")  # inside post 4's comments
    path = tmp_path / "truncated.xml"
    path.write_bytes(data[:cut])
    run("import_wxr", path)  # post 4 is cut off: no post, no comment of it
    assert not Post.objects.exists() and not Comment.objects.exists()
    path.write_bytes(data[: data.index(b"<title><![CDATA[A draft")])  # cut in the draft, after posts 4 and 8
    out, err, failed = run("import_wxr", path)
    assert failed and out == [f"{SITE}/?p=4 (hello-archive): created", f"{SITE}/?p=8 (post): created"]
    line = data[: data.index(b"<title><![CDATA[A draft")].count(b"\n") + 1
    assert err[0] == (
        f"{path}: error: line {line}: the file ends before the export does (truncated?); nothing after it was imported"
    )
    assert Post.objects.count() == 2 and Comment.objects.count() == 8


def test_the_command_exits_non_zero_on_a_hostile_file(tmp_path):
    path = tmp_path / "bomb.xml"
    path.write_bytes(HOSTILE["billion-laughs"][0])
    result = subprocess.run(
        [sys.executable, "manage.py", "import_wxr", str(path)],
        cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=60,
        env={"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "CACHE_URL": "locmem://",
             "ARCHIVE_PAGE_DIR": str(tmp_path / "pages"), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 1 and "refused: the file declares a DTD" in result.stderr
    assert "Traceback" not in result.stderr


def test_reading_is_streaming_memory_stays_bounded(tmp_path):
    path = tmp_path / "big.xml"
    write_generated_export(path, posts=2000, comments=10)  # about 15 MB
    assert path.stat().st_size > 10_000_000
    tracemalloc.start()
    try:
        with path.open("rb") as stream:
            count = sum(1 for _ in WxrReader(stream).items())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 2000
    assert peak < 2_000_000, peak  # one item (7 KB) and a chunk at a time, not the 15 MB tree


def test_the_site_feed_gives_an_imported_post_its_date_and_author():
    run("import_wxr", BLOG)
    rss = Client().get("/feed/").content.decode()
    assert "<pubDate>Tue, 12 Jan 2016 10:00:00 +0000</pubDate>" in rss
    atom = Client().get("/feed/atom/").content.decode()
    assert "<published>2016-01-12T10:00:00+00:00</published>" in atom and "<name>Zoë Ångström</name>" in atom
