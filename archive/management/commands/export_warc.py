from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from archive.interchange.warc import export


class Command(BaseCommand):
    help = "Write the archive as one WARC 1.1 file (.warc.gz): originals, pages as served, comment feeds."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--base-url", default="http://127.0.0.1:8000", help="The archive's address, as the records name it."
        )

    def handle(self, *args, file, base_url, **options):
        if not base_url.startswith(("http://", "https://")):
            raise CommandError("--base-url must start with http:// or https://")
        try:
            with file.open("wb") as out:
                for line in export(out, base_url=base_url, filename=file.name):
                    self.stdout.write(line)
        except OSError as exc:
            raise CommandError(f"{file}: cannot be written ({exc.strerror or exc})") from None
