"""EMAIL_URL → Django's EMAIL_* settings. Read by archive/settings.py, so it imports nothing of Django's.

    smtp://user:pw@host:25        plain SMTP (port 25 when none is given)
    smtp+tls://user:pw@host:587   STARTTLS (port 587)
    smtp+ssl://user:pw@host:465   TLS from the first byte (port 465)
    console://                    mails printed on the worker's stdout (development)
    (empty)                       no mail at all

`?timeout=S` sets how long one SMTP conversation may hang (default 30 s: a stalled server must not hold
the worker for ever; the task is retried). User and password are percent-decoded, so `%40` is `@`.

dj-email-url does the same with other scheme names (`smtps` is STARTTLS there) and has not been released
since 2022; a dozen lines here say exactly what the README documents.
"""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

SMTP = "django.core.mail.backends.smtp.EmailBackend"
SCHEMES = {"smtp": (25, False, False), "smtp+tls": (587, True, False), "smtp+ssl": (465, False, True)}
DEFAULT_TIMEOUT = 30.0


def parse(url: str) -> dict[str, object]:
    """The EMAIL_* settings an EMAIL_URL stands for; ValueError names what is wrong with it."""
    url = url.strip()
    if not url:
        return {"EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend"}
    parts = urlsplit(url)
    if parts.scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if parts.scheme not in SCHEMES:
        raise ValueError(f"EMAIL_URL: unknown scheme {parts.scheme!r} (smtp, smtp+tls, smtp+ssl or console)")
    if not parts.hostname:
        raise ValueError("EMAIL_URL: no host")
    port, tls, ssl = SCHEMES[parts.scheme]
    timeout = parse_qs(parts.query).get("timeout", [str(DEFAULT_TIMEOUT)])[-1]
    return {
        "EMAIL_BACKEND": SMTP,
        "EMAIL_HOST": parts.hostname,
        "EMAIL_PORT": parts.port or port,
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": tls,
        "EMAIL_USE_SSL": ssl,
        "EMAIL_TIMEOUT": float(timeout),
    }
