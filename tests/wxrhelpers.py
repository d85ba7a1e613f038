"""Running import_wxr as the operator does, and the hand-made export every WXR test reads."""

from io import StringIO
from pathlib import Path

from django.core.management import CommandError, call_command

BLOG = Path(__file__).parent / "samples" / "wxr" / "blog.xml"  # hand-made after WordPress 6.1's export.php
REAL = Path(__file__).parent / "samples" / "wxr" / "wordpress-peer.xml"  # written by WordPress 6.1.9 itself


def run(command: str, *args: object) -> tuple[list[str], list[str], bool]:
    """call_command(command, …) → (stdout lines, stderr lines, failed?)."""
    out, err = StringIO(), StringIO()
    failed = False
    try:
        call_command(command, *[str(a) for a in args], stdout=out, stderr=err, no_color=True)
    except CommandError as exc:
        failed = True
        err.write(f"CommandError: {exc}\n")
    return out.getvalue().splitlines(), err.getvalue().splitlines(), failed


def write_generated_export(path: Path, posts: int, comments: int) -> None:
    """A large export for memory and time measurements: the hand-made export's channel, then `posts` items
    of about 1 KB, each with `comments` comments (every third a top-level one, the others replies to it)."""
    channel = BLOG.read_text(encoding="utf-8").split("\t\t<item>")[0]
    body = "Some text of the post, with <em>markup</em> and a [shortcode].\n\n" * 8
    comment_id = 100
    with path.open("w", encoding="utf-8") as out:
        out.write(channel)
        for n in range(posts):
            out.write(
                f"\t<item>\n\t\t<title><![CDATA[Generated post {n} — ünïcode]]></title>\n"
                f"\t\t<link>http://blog.example/2016/01/12/gen-{n}/</link>\n"
                "\t\t<dc:creator><![CDATA[zoe]]></dc:creator>\n"
                f"\t\t<content:encoded><![CDATA[{body}]]></content:encoded>\n"
                f"\t\t<wp:post_id>{1000 + n}</wp:post_id>\n"
                "\t\t<wp:post_date_gmt><![CDATA[2016-01-12 10:00:00]]></wp:post_date_gmt>\n"
                f"\t\t<wp:post_name><![CDATA[gen-{n}]]></wp:post_name>\n"
                "\t\t<wp:status><![CDATA[publish]]></wp:status>\n\t\t<wp:post_type><![CDATA[post]]></wp:post_type>\n"
            )
            thread = 0
            for c in range(comments):
                thread = comment_id if c % 3 == 0 else thread
                out.write(
                    f"\t\t<wp:comment><wp:comment_id>{comment_id}</wp:comment_id>"
                    f"<wp:comment_author><![CDATA[Reader {c}]]></wp:comment_author>"
                    f"<wp:comment_author_email>r{c}@example.com</wp:comment_author_email>"
                    f"<wp:comment_author_IP>192.0.2.{c % 250}</wp:comment_author_IP>"
                    "<wp:comment_date_gmt>2016-01-13 10:00:00</wp:comment_date_gmt>"
                    f"<wp:comment_content><![CDATA[A comment with <strong>some</strong> words, number {c}. "
                    "See www.example.com.]]></wp:comment_content><wp:comment_approved>1</wp:comment_approved>"
                    "<wp:comment_type>comment</wp:comment_type>"
                    f"<wp:comment_parent>{0 if thread == comment_id else thread}</wp:comment_parent></wp:comment>\n"
                )
                comment_id += 1
            out.write("\t</item>\n")
        out.write("</channel>\n</rss>\n")
