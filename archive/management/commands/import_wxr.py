from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from archive.interchange.wxr_import import Options, import_export


class Command(BaseCommand):
    help = "Archive the published posts and their comments from WordPress exports (WXR). Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", type=Path)
        parser.add_argument("--pages", action="store_true", help="Archive published pages too.")

    def handle(self, *args, files, pages, **options):
        failures = 0
        for path in files:
            for result in import_export(path, Options(pages=pages)):
                failures += result.failed
                style = self.style.ERROR if result.failed else self.style.SUCCESS
                (self.stderr if result.failed else self.stdout).write(style(str(result)))
        if failures:
            raise CommandError(f"{failures} error(s)", returncode=1)
