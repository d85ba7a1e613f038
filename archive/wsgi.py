"""The WSGI application the production server runs (see the Makefile's `run`)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "archive.settings")

django_application = get_wsgi_application()

from archive.limits import HeaderGuard  # noqa: E402 (needs the settings configured above)
from archive.pagecache import FastPath  # noqa: E402

# Cache hits are answered here, before Django's request cycle; everything else goes to Django.
application = HeaderGuard(FastPath(django_application))
