from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, str]:
    return {"site_name": settings.ARCHIVE_SITE_NAME, "site_tagline": settings.ARCHIVE_SITE_TAGLINE}
