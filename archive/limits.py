"""Hostile request bodies stop here, before any view, form or CSRF check reads them.

- Too big: refused with 413 from the Content-Length header alone, so a huge body is never read into
  memory. A body of unknown length (chunked; the server de-chunks it and leaves out Content-Length) is
  read up to the limit plus one byte and refused as soon as that byte arrives. The limit is
  ARCHIVE_MAX_TRACKBACK_BYTES on TrackBack ping URLs, ARCHIVE_MAX_FORM_BYTES everywhere else.
- Not UTF-8: Django decodes an `application/x-www-form-urlencoded` body that is not valid UTF-8
  silently, with replacement characters or as Latin-1, so the reader's text would be stored garbled.
  Such a body, and one with more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS, is refused with 400 here.
  TrackBack URLs are left to `trackback.decode`, which follows the protocol's own charset rules.

Django itself already answers 400 for a form declaring another charset (BadRequest), for broken
multipart bodies (MultiPartParserError) and for too many fields (TooManyFieldsSent); this module closes
the gaps it leaves and answers in the TrackBack protocol's XML on ping URLs.
"""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.exceptions import BadRequest, SuspiciousOperation, TooManyFieldsSent
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.urls import Resolver404, resolve
from django.utils.http import parse_header_parameters

from . import trackback

TRACKBACK_VIEW = "archive:trackback"
FORM_TYPE = "application/x-www-form-urlencoded"
MULTIPART_TYPE = "multipart/form-data"
TOO_MANY_FIELDS = "The form has too many fields: at most {} are accepted."
UNREADABLE = "The request body could not be read."
READ_CHUNK = 64 * 1024


def is_trackback(request: HttpRequest) -> bool:
    """Judged by the URL's name, not its shape, so a changed URL pattern keeps its limit."""
    try:
        return resolve(request.path_info).view_name == TRACKBACK_VIEW
    except Resolver404:
        return False


def refusal(ping: bool, status: int, message: str) -> HttpResponse:
    """A TrackBack sender reads the XML <message>; anyone else gets one line of text."""
    if ping:
        return HttpResponse(trackback.response_xml(message), status=status,
                            content_type="text/xml; charset=utf-8")  # fmt: skip
    return HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")


def too_large(ping: bool, limit: int) -> HttpResponse:
    return refusal(ping, 413, f"The request body is too large: at most {limit} bytes are accepted here.")


def has_unknown_length(request: HttpRequest) -> bool:
    """A body comes without Content-Length only when chunked. Servers that de-chunk say so with
    `wsgi.input_terminated` (gunicorn sets it on every request; the stream then ends where the body does)."""
    environ = request.META
    return "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower() or bool(environ.get("wsgi.input_terminated"))


def read_bounded(request: HttpRequest, limit: int) -> bytes:
    """At most limit + 1 bytes of a body of unknown length: one byte more is enough to refuse it."""
    stream = request.META["wsgi.input"]
    data = bytearray()
    while len(data) <= limit:
        piece = stream.read(min(READ_CHUNK, limit + 1 - len(data)))
        if not piece:
            break
        data += piece
    return bytes(data)


def form_problem(request: HttpRequest) -> str | None:
    """Why a form body cannot be read (as the UTF-8 it must be, for a urlencoded one), or None when it can.

    The form is parsed here, inside a try, and not first by the CSRF middleware: when request.POST raises
    there, Django's 400 handler (`bad_request`, which carries `requires_csrf_token`) reads request.POST
    again, and for a urlencoded form in another charset (BadRequest) or with too many fields
    (TooManyFieldsSent) the error is raised a second time and the answer becomes a 500.
    """
    if request.method != "POST" or request.content_type not in (FORM_TYPE, MULTIPART_TYPE):
        return None
    if request.content_type == FORM_TYPE:
        if request.encoding is not None and request.encoding.lower() != "utf-8":
            return "A form must be sent in UTF-8."
        try:
            parse_qsl(
                request.body.decode("utf-8"),
                keep_blank_values=True,
                encoding="utf-8",
                errors="strict",
                max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS,
            )
        except UnicodeDecodeError:
            return "The form data is not valid UTF-8."
        except ValueError:  # parse_qsl's only other complaint: more fields than max_num_fields
            return TOO_MANY_FIELDS.format(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS)
        except UnreadablePostError:
            return UNREADABLE
    try:
        request.POST  # noqa: B018 (parsed now, so that its errors are answered here)
    except TooManyFieldsSent:
        return TOO_MANY_FIELDS.format(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS)
    except (MultiPartParserError, SuspiciousOperation, BadRequest):
        return "The form data is malformed."
    except UnreadablePostError:
        return UNREADABLE
    return None


class RequestLimitMiddleware:
    """Sits right after WhiteNoise (static files never have a body) and before sessions, CSRF and views,
    which are the first to read request.POST; the security and CSP middleware above it still add their
    headers to its refusals."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refused = self.check(request)
        return refused if refused is not None else self.get_response(request)

    def check(self, request: HttpRequest) -> HttpResponse | None:
        ping = is_trackback(request)
        limit = settings.ARCHIVE_MAX_TRACKBACK_BYTES if ping else settings.ARCHIVE_MAX_FORM_BYTES
        declared = request.META.get("CONTENT_LENGTH", "")
        if declared:
            if not (declared.isascii() and declared.isdigit()):  # int() would take " 1", "+1" and "1_0"
                return refusal(ping, 400, "The Content-Length header is not a number of bytes.")
            if int(declared) > limit:
                return too_large(ping, limit)
        elif request.method not in ("GET", "HEAD") and has_unknown_length(request):
            data = read_bounded(request, limit)
            if len(data) > limit:
                return too_large(ping, limit)
            # Hand Django the body it would otherwise never read (it reads only Content-Length bytes).
            request.META["CONTENT_LENGTH"] = str(len(data))
            request._stream = LimitedStream(BytesIO(data), len(data))
        if not ping:
            problem = form_problem(request)
            if problem:
                return refusal(ping, 400, problem)
        return None


class HeaderGuard:
    """WSGI wrapper for the one kind of bad request Django cannot answer itself: a Content-Type whose
    parameters it fails to parse (e.g. `charset*=bogus''utf-8`) raises while the request object is being
    built, before any middleware runs, and the server would answer 500. Refused here with 400."""

    HEADERS = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ]

    def __init__(self, app: Callable):
        self.app = app

    def __call__(self, environ: dict, start_response: Callable):
        try:
            parse_header_parameters(environ.get("CONTENT_TYPE", ""))
        except ValueError:
            body = b"The Content-Type header could not be parsed.\n"
            start_response("400 Bad Request", [*self.HEADERS, ("Content-Length", str(len(body)))])
            return [body]
        return self.app(environ, start_response)
