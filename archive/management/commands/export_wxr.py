from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from archive.interchange.wxr_export import export


class Command(BaseCommand):
    help = "Write the archive as a WordPress export (WXR 1.2): posts, public responses, threading and types."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--include-held", action="store_true", help="Also responses awaiting moderation.")
        parser.add_argument(
            "--base-url", default="http://127.0.0.1:8000", help="The archive's address, for links and identity."
        )

    def handle(self, *args, file, include_held, base_url, **options):
        if not base_url.startswith(("http://", "https://")):
            raise CommandError("--base-url must start with http:// or https://")
        try:
            with file.open("w", encoding="utf-8", newline="\n") as out:
                for line in export(out, base_url=base_url, site_name=settings.ARCHIVE_SITE_NAME,
                                   include_held=include_held):  # fmt: skip
                    self.stdout.write(line)
        except OSError as exc:
            raise CommandError(f"{file}: cannot be written ({exc.strerror or exc})") from None
