"""`manage.py archive_restore PATH [--yes]`: make the database hold what a backup of `archive_backup` holds.
See archive/backup.py for the two formats.

A restore replaces every post and response, so it first says what it would replace with what, and asks;
`--yes` answers for the operator (cron, scripts). Without a terminal to ask on and without `--yes` it
refuses: a script that forgot the flag must not wipe the archive unasked, nor hang on a question.
"""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from archive import backup

ERRORS = (backup.BackupError, OSError, ValueError)


class Command(BaseCommand):
    help = (
        "Restore a backup written by archive_backup (its format is read from the file): an SQLite file is copied "
        "into the live SQLite database; a JSON backup replaces every post and response. Cached pages are dropped. "
        "Says what it would replace and asks first, unless --yes."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", metavar="PATH", type=Path, help="a file written by archive_backup")
        parser.add_argument("--database", default="default", help="the database alias (default: default)")
        parser.add_argument("--yes", action="store_true", help="replace without asking")

    def handle(self, *args, path: Path, database: str, yes: bool, **options):
        try:
            found = backup.inspect(path, using=database)
            posts, comments = backup.current(using=database)
        except ERRORS as exc:
            raise CommandError(f"restore refused, nothing changed: {exc}") from exc
        self.stdout.write(
            f"This replaces the {posts} post(s) and {comments} response(s) in the database now\n"
            f"with the backup's {found}."
        )
        if not yes:
            self.confirm()
        try:
            summary = backup.restore(path, using=database)
        except ERRORS as exc:
            raise CommandError(f"restore failed, nothing changed: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"Restored {summary}"))

    def confirm(self) -> None:
        if not sys.stdin.isatty():
            raise CommandError("restore refused, nothing changed: no terminal to ask on; run it with --yes to replace")
        self.stdout.flush()
        try:
            answer = input("Replace them? [y/N] ")
        except (EOFError, KeyboardInterrupt):  # Ctrl-D, Ctrl-C: no
            answer = ""
        if answer.strip().lower() not in {"y", "yes"}:
            raise CommandError("restore cancelled, nothing changed")
