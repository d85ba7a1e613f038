"""Re-render the stored HTML of every reply from what its author typed, after the sanitising policy changed
(markup.py's allowlist, link rules or Markdown extensions). Pings carry no rendered HTML and are skipped."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from archive import markup, pagecache
from archive.models import Comment


class Command(BaseCommand):
    help = "Re-render content_html of every stored reply with the current sanitising policy."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500, help="Rows read and written at a time.")
        parser.add_argument("--dry-run", action="store_true", help="Count what would change; write nothing.")

    def handle(self, *args, batch_size: int, dry_run: bool, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        fields = ("pk", "content", "content_html", "wp_comment_id")
        replies = Comment.objects.filter(kind=Comment.Kind.COMMENT).only(*fields)
        seen = changed = 0
        pending: list[Comment] = []
        # The primary key orders the walk, so rows written meanwhile are neither skipped nor read twice,
        # and the cursor (iterator) never holds more than one chunk in memory.
        for comment in replies.order_by("pk").iterator(chunk_size=batch_size):
            seen += 1
            # An imported comment's content is WordPress's HTML, not Markdown.
            imported = comment.wp_comment_id is not None
            html = (markup.render_imported_comment if imported else markup.render_comment)(comment.content)
            if html == comment.content_html:
                continue
            comment.content_html = html
            pending.append(comment)
            if len(pending) >= batch_size:
                changed += self.write(pending, dry_run)
                pending = []
        changed += self.write(pending, dry_run)
        if changed and not dry_run:
            pagecache.invalidate()
        verb = "would change" if dry_run else "changed"
        self.stdout.write(f"{changed} of {seen} repl{'y' if seen == 1 else 'ies'} {verb}.")

    @staticmethod
    def write(batch: list[Comment], dry_run: bool) -> int:
        if not batch or dry_run:
            return len(batch)
        now = timezone.now()
        for comment in batch:
            comment.modified_at = now  # bulk_update skips auto_now; Last-Modified must move with the page
        with transaction.atomic():
            Comment.objects.bulk_update(batch, ["content_html", "modified_at"])
        return len(batch)
