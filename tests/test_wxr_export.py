"""`export_wxr`: the archive as WXR 1.2. Imported back into a fresh archive it gives the same posts and the
same public responses, threading and types; into WordPress with its Importer (when PHP and the peer are
installed) the same counts."""

import os
import re
import shutil
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import pytest

from archive.models import Comment, Post
from tests.wxrhelpers import BLOG, REAL, run

pytestmark = pytest.mark.django_db
PEER = Path(__file__).resolve().parents[2] / "shared" / "peers" / "wordpress"
WP = "{http://wordpress.org/export/1.2/}"


def posts_and_comments():
    """Everything a reader sees of each post and its public responses, keyed so two archives compare."""
    result = {}
    for post in Post.objects.order_by("slug"):
        comments = post.comments.public().order_by("created_at")
        keys = {c.pk: (c.created_at, c.author) for c in comments}
        result[post.slug] = {
            "post": (post.title, post.body, post.published_at, post.author_name, post.categories, post.tags,
                     post.comments_open, post.pings_open),
            "comments": [
                (c.kind, c.status, c.author, c.author_email, c.author_url, c.ip_address, c.created_at, c.title,
                 c.blog_name, c.content_html if c.kind == "comment" else c.content, keys.get(c.parent_id),
                 keys.get(c.thread_id))
                for c in comments
            ],
        }  # fmt: skip
    return result


@pytest.mark.parametrize("export", [BLOG, REAL], ids=["hand-made", "wordpress"])
def test_round_trip_into_a_fresh_archive_keeps_every_post_and_comment(tmp_path, export):
    run("import_wxr", export, "--pages")
    before = posts_and_comments()
    html = dict(Post.objects.values_list("slug", "content_html"))
    replies = Comment.objects.public().filter(parent__isnull=False).count()
    out_file = tmp_path / "archive.xml"
    out, _, failed = run("export_wxr", out_file)
    assert not failed and len(out) == Post.objects.count()
    Comment.objects.all().delete()
    Post.objects.all().delete()
    out, err, failed = run("import_wxr", out_file, "--pages")
    assert not failed, err
    assert posts_and_comments() == before
    assert dict(Post.objects.values_list("slug", "content_html")) == html
    assert Comment.objects.filter(parent__isnull=False).count() == replies  # threading kept


def test_a_seed_post_and_replies_written_here_go_out_too(post, tmp_path):
    Comment.objects.create(post=post, author="Reader", author_email="r@example.com", content="*hi*",
                           content_html="<p><em>hi</em></p>", status="approved", dedupe_key="x")  # fmt: skip
    out_file = tmp_path / "seed.xml"
    run("export_wxr", out_file, "--base-url", "https://archive.example")
    item = ElementTree.parse(out_file).find("channel/item")
    assert item.findtext(f"{WP}post_name") == post.slug and item.findtext("title") == post.title
    assert item.findtext("link") == f"https://archive.example/{post.slug}/"
    content = item.findtext("{http://purl.org/rss/1.0/modules/content/}encoded")
    assert post.blocks[0].text in content
    comment = item.find(f"{WP}comment")
    assert comment.findtext(f"{WP}comment_content") == "<p><em>hi</em></p>"
    assert comment.findtext(f"{WP}comment_approved") == "1" and comment.findtext(f"{WP}comment_type") == "comment"


def test_held_responses_only_with_the_flag_and_spam_and_trash_never(tmp_path):
    run("import_wxr", BLOG)
    default, held = tmp_path / "default.xml", tmp_path / "held.xml"
    run("export_wxr", default)
    run("export_wxr", held, "--include-held")

    def comment_states(path):
        root = ElementTree.parse(path)
        return sorted(c.findtext(f"{WP}comment_approved") for c in root.iter(f"{WP}comment"))

    assert comment_states(default) == ["1"] * 5
    assert comment_states(held) == ["0"] + ["1"] * 5
    assert b"Buy now" not in held.read_bytes() and b"Trashed." not in held.read_bytes()


def test_an_unwritable_file_is_an_error_not_a_traceback(tmp_path):
    _, err, failed = run("export_wxr", tmp_path / "missing" / "x.xml")
    assert failed and "cannot be written" in err[-1]


def wordpress_peer() -> str:
    """Why the WordPress peer cannot take an import here, or "" when it can."""
    if not (PEER / "import-wxr.sh").exists():
        return f"no peer scripts at {PEER}"
    if os.geteuid() != 0 or not shutil.which("php") or not shutil.which("mariadb"):
        return "needs root, PHP and MariaDB"
    probe = subprocess.run(["mariadb", "-N", "-e", "SELECT 1", "wordpress"], capture_output=True, timeout=30)
    return "" if probe.returncode == 0 else "the peer's database is not installed"


PEER_MISSING = wordpress_peer()


@pytest.mark.skipif(bool(PEER_MISSING), reason=f"WordPress Importer test: {PEER_MISSING}; run "
                    "../shared/peers/wordpress/setup.sh (Debian's php, mariadb, nginx) as root")
def test_the_wordpress_importer_accepts_the_export(tmp_path):  # pragma: no cover - needs the WordPress peer
    """WordPress → archive → WordPress: the real export in, ours out, WordPress's Importer reads it back with
    every published post, every response (held ones too, with the flag) and the threading."""
    run("import_wxr", REAL)
    out_file = tmp_path / "archive.xml"
    run("export_wxr", out_file, "--include-held")
    result = subprocess.run([str(PEER / "import-wxr.sh"), str(out_file)], capture_output=True, text=True,
                            timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    counts = re.search(r"posts (\d+) -> (\d+), comments (\d+) -> (\d+)", result.stdout)
    posts_before, posts_after, comments_before, comments_after = map(int, counts.groups())
    assert (posts_after - posts_before, comments_after - comments_before) == (Post.objects.count(),
                                                                              Comment.objects.count())  # fmt: skip
    seed = Post.objects.get(wp_post_id=4)
    replies = seed.comments.filter(parent__isnull=False).count()
    assert f"{seed.slug}: {seed.comments.count()} comments ({replies} replies)" in result.stdout
