"""Every setting the operator may change is read from the environment, with a safe default.

The defaults serve one machine: SQLite in the repository (WAL mode), a file-based cache shared by the
server's workers, DEBUG off. The README lists every variable.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
import django_cache_url
from django.core.exceptions import ImproperlyConfigured

from archive.mail import config as mail_config

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _secret_key(path: Path) -> str:
    """A key generated once per checkout and kept out of git, so no constant key is ever shipped."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        key = secrets.token_urlsafe(50)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker wrote it first
            return path.read_text().strip()
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or _secret_key(BASE_DIR / ".secret_key")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")
# Proxies (CIDRs) whose X-Forwarded-For names the reader's address: see archive/clientip.py.
ARCHIVE_TRUSTED_PROXIES = env_list("ARCHIVE_TRUSTED_PROXIES", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.sitemaps",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "archive",
]

MIDDLEWARE = [
    "archive.pagecache.PageCacheMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # Up here, not at the end: the answers of WhiteNoise and of the request limits need the header too.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "archive.limits.RequestLimitMiddleware",
    "django.middleware.http.ConditionalGetMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "archive.oldlinks.OldLinksMiddleware",  # inside CommonMiddleware: it sees the 404 first
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "archive.urls"
WSGI_APPLICATION = "archive.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "archive.context_processors.site",
            ],
        },
    },
    {
        # The mails' plain texts (templates/mail/): nothing in them is HTML, so nothing is escaped.
        "NAME": "mail",
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {"autoescape": False},
    },
]

# --- Database -------------------------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN so that two
    # writers queue on the busy timeout instead of failing with "database is locked" half-way through.
    DATABASES["default"]["CONN_MAX_AGE"] = 0 if env_bool("SQLITE_NO_PERSISTENT", False) else None
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": env_int("SQLITE_BUSY_TIMEOUT", 30),
    }
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("SQLITE_TEST_NAME") or None}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------------------------
# File-based by default so that every worker of the production server sees the same page cache and the
# same invalidation; CACHE_URL=redis://… for several machines, locmem:// for a single process.
# Redis through archive.rediscache: Django's own Redis cache, but one that holds nothing while Redis is away
# instead of raising (pages render uncached, replies post), with short socket timeouts.
CACHES = {
    "default": django_cache_url.parse(
        os.environ.get("CACHE_URL") or f"file://{BASE_DIR / '.cache' / 'django'}"
    )
}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"]["BACKEND"] = "archive.rediscache.RedisCache"
ARCHIVE_PAGE_CACHE = env_bool("ARCHIVE_PAGE_CACHE", True)
ARCHIVE_PAGE_CACHE_SECONDS = env_int("ARCHIVE_PAGE_CACHE_SECONDS", 24 * 3600)
# One machine: the page-cache version (a symlink) and the page files nginx serves (archive/pagecache.py).
ARCHIVE_PAGE_DIR = os.environ.get("ARCHIVE_PAGE_DIR") or str(BASE_DIR / ".cache" / "pages")
# s-maxage on public pages, for a CDN that is purged or may lag; 0: every cache revalidates every time.
ARCHIVE_SHARED_CACHE_SECONDS = env_int("ARCHIVE_SHARED_CACHE_SECONDS", 0)
# How many app servers share this deployment; `check --deploy` warns when they would not share the cache.
ARCHIVE_SERVERS = env_int("ARCHIVE_SERVERS", 1)

# --- Auth, i18n, static ---------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "UTC")
USE_I18N = False  # an English archive: no translation lookups on every string and URL
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if env_bool("ARCHIVE_PLAIN_STATIC", False)
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_MAX_AGE = 365 * 24 * 3600

# --- Security -------------------------------------------------------------------------------------------
HTTPS = env_bool("DJANGO_HTTPS", False)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "archive.views.csrf_failure"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# Django refuses larger bodies with 400 before any view reads them; RequestLimitMiddleware refuses with 413
# from Content-Length before even that.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 100
ARCHIVE_MAX_FORM_BYTES = env_int("ARCHIVE_MAX_FORM_BYTES", 256 * 1024)
ARCHIVE_MAX_TRACKBACK_BYTES = env_int("ARCHIVE_MAX_TRACKBACK_BYTES", 128 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = ARCHIVE_MAX_FORM_BYTES

# --- The archive's own rules ----------------------------------------------------------------------------
ARCHIVE_SITE_NAME = os.environ.get("ARCHIVE_SITE_NAME", "The Archive")
ARCHIVE_SITE_TAGLINE = os.environ.get("ARCHIVE_SITE_TAGLINE", "A scraped WordPress post, kept as it was")
ARCHIVE_REQUIRE_NAME_EMAIL = env_bool("ARCHIVE_REQUIRE_NAME_EMAIL", True)
ARCHIVE_COMMENT_FLOOD_SECONDS = env_int("ARCHIVE_COMMENT_FLOOD_SECONDS", 15)
ARCHIVE_COMMENT_MODERATION = os.environ.get("ARCHIVE_COMMENT_MODERATION", "first-time")
ARCHIVE_COMMENT_MAX_LINKS = env_int("ARCHIVE_COMMENT_MAX_LINKS", 2)
ARCHIVE_COMMENT_BLOCKLIST = [
    line.strip() for line in os.environ.get("ARCHIVE_COMMENT_BLOCKLIST", "").splitlines() if line.strip()
]
ARCHIVE_THREAD_DEPTH = env_int("ARCHIVE_THREAD_DEPTH", 5)
ARCHIVE_COMMENTS_PER_PAGE = env_int("ARCHIVE_COMMENTS_PER_PAGE", 50)
ARCHIVE_PENDING_VISIBLE_SECONDS = env_int("ARCHIVE_PENDING_VISIBLE_SECONDS", 7 * 24 * 3600)
ARCHIVE_REMEMBER_SECONDS = env_int("ARCHIVE_REMEMBER_SECONDS", 365 * 24 * 3600)
# How long the author of a reply may edit or delete it from the browser that wrote it (archive/editing.py).
ARCHIVE_EDIT_MINUTES = env_int("ARCHIVE_EDIT_MINUTES", 15)
# Avatars: "generated" (made here) or "gravatar" (fetched by this site from ARCHIVE_GRAVATAR_URL and served
# from here, so CSP img-src 'self' holds); see archive/avatars.py.
ARCHIVE_AVATARS = os.environ.get("ARCHIVE_AVATARS", "generated").strip().lower()
if ARCHIVE_AVATARS not in ("generated", "gravatar"):
    raise ImproperlyConfigured(f"ARCHIVE_AVATARS must be generated or gravatar, not {ARCHIVE_AVATARS!r}")
ARCHIVE_GRAVATAR_URL = os.environ.get("ARCHIVE_GRAVATAR_URL", "https://secure.gravatar.com/avatar/")
ARCHIVE_KEEP_IP_DAYS = env_int("ARCHIVE_KEEP_IP_DAYS", 30)
# Admin login: this many failed attempts for one username from one client IP (4× as many from one IP over
# any usernames) within the window → 429. See archive/loginlimit.py.
ARCHIVE_LOGIN_MAX_FAILURES = env_int("ARCHIVE_LOGIN_MAX_FAILURES", 5)
ARCHIVE_LOGIN_WINDOW_SECONDS = env_int("ARCHIVE_LOGIN_WINDOW_SECONDS", 15 * 60)

# --- Pingback, Webmention and the task queue (README: "Pingback and Webmention") ------------------------
# The task table lives in the same database by default; see the README for RQ on Redis (django-tasks-rq).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
ARCHIVE_FETCH_ALLOW_PRIVATE = env_bool("ARCHIVE_FETCH_ALLOW_PRIVATE", False)
ARCHIVE_FETCH_ALLOW_NETWORKS = env_list("ARCHIVE_FETCH_ALLOW_NETWORKS", "")
ARCHIVE_FETCH_DEADLINE_SECONDS = float(os.environ.get("ARCHIVE_FETCH_DEADLINE_SECONDS") or 10)
ARCHIVE_FETCH_MAX_BYTES = env_int("ARCHIVE_FETCH_MAX_BYTES", 1024 * 1024)
ARCHIVE_FETCH_ATTEMPTS = env_int("ARCHIVE_FETCH_ATTEMPTS", 4)
ARCHIVE_FETCH_RETRY_SECONDS = float(os.environ.get("ARCHIVE_FETCH_RETRY_SECONDS") or 60)
ARCHIVE_PINGS_PER_SENDER = env_int("ARCHIVE_PINGS_PER_SENDER", 30)
ARCHIVE_PINGS_WINDOW_SECONDS = env_int("ARCHIVE_PINGS_WINDOW_SECONDS", 3600)
ARCHIVE_TASK_LEASE_SECONDS = env_int("ARCHIVE_TASK_LEASE_SECONDS", 300)
# How often a running worker looks for tasks a dead worker left running (0: only when a worker starts).
ARCHIVE_TASK_RECOVER_SECONDS = float(os.environ.get("ARCHIVE_TASK_RECOVER_SECONDS") or 30)
ARCHIVE_PINGBACK_VERIFY_NOW = env_bool("ARCHIVE_PINGBACK_VERIFY_NOW", False)
ARCHIVE_MAX_XMLRPC_BYTES = env_int("ARCHIVE_MAX_XMLRPC_BYTES", 64 * 1024)

# --- Mail (README: "Mail") --------------------------------------------------------------------------------
# EMAIL_URL: smtp://, smtp+tls://, smtp+ssl:// or console://; empty: no mail, and no reply-notification box.
EMAIL_URL = os.environ.get("EMAIL_URL", "")
globals().update(mail_config.parse(EMAIL_URL))
ARCHIVE_MAIL_ENABLED = bool(EMAIL_URL.strip())
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL") or "webmaster@localhost"
SERVER_EMAIL = DEFAULT_FROM_EMAIL
ARCHIVE_MODERATOR_EMAILS = env_list("ARCHIVE_MODERATOR_EMAILS", "")
ARCHIVE_NOTIFY_PUBLISHED = env_bool("ARCHIVE_NOTIFY_PUBLISHED", False)
# Where the links in mails point (no request is at hand in the worker).
_FIRST_HOST = ALLOWED_HOSTS[0].lstrip(".") if ALLOWED_HOSTS else "localhost"
ARCHIVE_BASE_URL = (os.environ.get("ARCHIVE_BASE_URL") or f"{'https' if HTTPS else 'http'}://{_FIRST_HOST}").rstrip("/")
ARCHIVE_MAIL_LINK_SECONDS = env_int("ARCHIVE_MAIL_LINK_SECONDS", 7 * 24 * 3600)
ARCHIVE_MAIL_ATTEMPTS = env_int("ARCHIVE_MAIL_ATTEMPTS", 10)
ARCHIVE_MAIL_RETRY_SECONDS = float(os.environ.get("ARCHIVE_MAIL_RETRY_SECONDS") or 60)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "WARNING")},
}
