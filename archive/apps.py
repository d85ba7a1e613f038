from django.apps import AppConfig


class ArchiveConfig(AppConfig):
    name = "archive"
    verbose_name = "Archive"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from . import health, signals  # noqa: F401 (connect the receivers, register the deployment check)
        from .sqlitefiles import make_private

        connection_created.connect(make_private, dispatch_uid="archive.sqlitefiles")
