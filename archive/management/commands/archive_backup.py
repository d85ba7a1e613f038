"""`manage.py archive_backup PATH [--format sqlite|json]`: a consistent copy of the database, taken while the
site serves. See archive/backup.py for the two formats and why."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from archive import backup


class Command(BaseCommand):
    help = (
        "Write a consistent copy of the database to PATH while the site serves: SQLite's online backup API "
        "(an SQLite file), or a JSON fixture (PostgreSQL, or a PATH ending in .json). Restore with archive_restore."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", metavar="PATH", type=Path, help="the backup file to write (replaced if it exists)")
        parser.add_argument(
            "--format",
            choices=backup.FORMATS,
            help="sqlite (SQLite only; the default there) or json (any database; the default on PostgreSQL)",
        )
        parser.add_argument("--database", default="default", help="the database alias (default: default)")

    def handle(self, *args, path: Path, format: str | None, database: str, **options):
        try:
            summary = backup.backup(path, format, using=database)
        except (backup.BackupError, OSError) as exc:
            raise CommandError(f"backup failed: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"Backed up {summary}"))
