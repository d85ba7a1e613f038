from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from archive.importing import import_file


class Command(BaseCommand):
    help = "Archive seed files as posts (default: every seeds/*.txt). Safe to run again: see the README."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="*", type=Path)

    def handle(self, *args, paths, **options):
        if not paths:
            paths = sorted((settings.BASE_DIR / "seeds").glob("*.txt"))
        if not paths:
            raise CommandError("no seed files found in seeds/")
        failures = 0
        for path in paths:
            result = import_file(path)
            failures += result.failed
            style = self.style.ERROR if result.failed else self.style.SUCCESS
            (self.stderr if result.failed else self.stdout).write(style(str(result)))
        if failures:
            raise CommandError(f"{failures} of {len(paths)} file(s) failed", returncode=1)
