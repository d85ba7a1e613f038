"""`manage.py archive_restore PATH`: make the database hold what a backup of `archive_backup` holds. See
archive/backup.py for the two formats."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from archive import backup


class Command(BaseCommand):
    help = (
        "Restore a backup written by archive_backup (its format is read from the file): an SQLite file is copied "
        "into the live SQLite database; a JSON backup replaces every post and response. Cached pages are dropped."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", metavar="PATH", type=Path, help="a file written by archive_backup")
        parser.add_argument("--database", default="default", help="the database alias (default: default)")

    def handle(self, *args, path: Path, database: str, **options):
        try:
            summary = backup.restore(path, using=database)
        except (backup.BackupError, OSError, ValueError) as exc:
            raise CommandError(f"restore failed, nothing changed: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"Restored {summary}"))
