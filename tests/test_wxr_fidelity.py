"""Every published post and every comment of an export, field by field against the file itself (read
whole here with defusedxml's ElementTree, independently of the streaming reader). Run on the hand-made
export and on a real one written by WordPress 6.1's own export_wp() (tests/samples/wxr/wordpress-peer.xml,
written by ../shared/peers/wordpress/export-wxr.sh --seed on Debian's WordPress 6.1.9, committed as it
came)."""

import html
from datetime import UTC, datetime
from urllib.parse import unquote

import pytest
from defusedxml import ElementTree

from archive.models import Comment, Post
from tests.wxrhelpers import BLOG, REAL, run

pytestmark = pytest.mark.django_db
WP = "{http://wordpress.org/export/1.2/}"
DC = "{http://purl.org/dc/elements/1.1/}"
STATES = {"1": "approved", "0": "pending", "spam": "spam", "trash": "trash"}


def gmt(value):
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


@pytest.mark.parametrize("export", [BLOG, REAL], ids=["hand-made", "wordpress"])
def test_every_post_and_comment_field_by_field(export):
    _, err, failed = run("import_wxr", export)
    assert not failed, err
    channel = ElementTree.parse(export).getroot().find("channel")
    site = channel.findtext(f"{WP}base_blog_url").rstrip("/")
    names = {a.findtext(f"{WP}author_login"): a.findtext(f"{WP}author_display_name")
             for a in channel.iter(f"{WP}author")}  # fmt: skip
    published = [item for item in channel.iter("item")
                 if item.findtext(f"{WP}post_type") == "post" and item.findtext(f"{WP}status") == "publish"
                 and not item.findtext(f"{WP}post_password")]  # fmt: skip
    assert Post.objects.count() == len(published) > 0
    for item in published:
        post = Post.objects.get(source_name=f"{site}/?p={item.findtext(f'{WP}post_id')}")
        assert post.title == html.unescape(item.findtext("title"))
        wanted_slug = unquote(item.findtext(f"{WP}post_name"))
        assert post.slug == wanted_slug or not wanted_slug.isascii()
        assert post.published_at == gmt(item.findtext(f"{WP}post_date_gmt"))
        assert post.author_name == names[item.findtext(f"{DC}creator")]
        terms = [(c.get("domain"), c.text) for c in item.iter("category")]
        assert post.categories == [name for domain, name in terms if domain == "category"]
        assert post.tags == [name for domain, name in terms if domain == "post_tag"]
        assert post.source_url == item.findtext("link")
        comments = list(item.iter(f"{WP}comment"))
        assert post.comments.count() == len(comments)
        for element in comments:
            comment = Comment.objects.get(post=post, wp_comment_id=int(element.findtext(f"{WP}comment_id")))
            kind = element.findtext(f"{WP}comment_type") or "comment"
            assert comment.kind == kind
            assert comment.status == STATES[element.findtext(f"{WP}comment_approved")]
            author = html.unescape(element.findtext(f"{WP}comment_author"))
            assert (comment.blog_name if kind != "comment" else comment.author) == author
            assert comment.author_email == (element.findtext(f"{WP}comment_author_email") or "")
            assert comment.author_url == (element.findtext(f"{WP}comment_author_url") or "")
            assert comment.ip_address == (element.findtext(f"{WP}comment_author_IP") or None)
            assert comment.created_at == gmt(element.findtext(f"{WP}comment_date_gmt"))
            parent = int(element.findtext(f"{WP}comment_parent"))
            assert (comment.parent.wp_comment_id if comment.parent else 0) == parent
            if kind == "comment":
                assert comment.content == element.findtext(f"{WP}comment_content")
                assert "<script" not in comment.content_html


def test_what_wordpress_itself_wrote_arrives_as_it_was_meant():
    """The real export's own quirks: an entity in a pingback's author, kses-filtered markup, a held reply,
    the admin's "]]>" split across two CDATA sections by export_wp(), a thread three deep."""
    run("import_wxr", REAL)
    seed = Post.objects.get(wp_post_id=4)
    by_id = {c.wp_comment_id: c for c in seed.comments.all()}
    assert by_id[8].kind == "pingback" and by_id[8].blog_name == "WP Peer pingback source – WP Peer"
    assert by_id[7].kind == "trackback" and by_id[7].content.startswith("Russia backs Assad’s army")
    assert by_id[6].status == "pending"
    assert "]]>" in by_id[9].content and by_id[9].parent == by_id[2]
    assert by_id[4].parent == by_id[3] and by_id[3].parent == by_id[2] and by_id[4].thread == by_id[2]
    assert "Кириллица, 中文 and an emoji 🙂" in by_id[4].content_html
    assert "<script" not in by_id[5].content_html and "<em>emphasis</em>" in by_id[5].content_html
