"""Pingback 1.0 over XML-RPC, receiving side, with the methods WordPress's xmlrpc.php has for it:
`pingback.ping`, `pingback.extensions.getPingbacks` and `system.listMethods`.

The call is parsed by defusedxml (no DTD, no entities, so no billion laughs and no external entities),
after the view has capped its size. Every answer is HTTP 200 with an XML-RPC response, faults included:
-32700 for what is not well-formed XML-RPC, -32601 for an unknown method, -32602 for wrong parameters.

`pingback.ping` checks the target without fetching anything and answers with the spec's fault codes:
0x0021 (33) for a URL that is not one of our posts, 0x0020 (32) for a post URL that names no post, 0x0031
(49) for a post whose pings are closed (or a sender over its rate), 0x0030 (48) when this source already
pinged it, and 0 for a source that is not an http(s) URL or is the target itself (WordPress's wording).
Otherwise the source is queued for verification and the answer is a string saying so; or, with
ARCHIVE_PINGBACK_VERIFY_NOW=1, verified during the call as WordPress does, so that the sender hears 0x0010
(16) for a source that does not exist and 0x0011 (17) for one without the link. Stock WordPress
rewrites every fault but 48 into fault 0 with an empty message (anti-probing); the spec's codes tell a
sender what is wrong, and nothing they reveal is secret here (which posts exist is public), so we keep
them. WordPress fetches the source during the call; we verify it in a task, so a slow source never holds
a web worker (unless the operator asks for the call to wait), and a source without the link simply never
appears.
"""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass
from xml.parsers.expat import ExpatError

from defusedxml import DefusedXmlException
from defusedxml.xmlrpc import DefusedExpatParser

from ..models import Comment, Post
from . import targets, verification

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
NO_SUCH_METHOD = -32601
INVALID_PARAMS = -32602
GENERIC = 0
SOURCE_UNKNOWN = 0x0010
SOURCE_NO_LINK = 0x0011
TARGET_UNKNOWN = 0x0020
TARGET_INVALID = 0x0021
ALREADY_REGISTERED = 0x0030
ACCESS_DENIED = 0x0031
METHODS = ["pingback.ping", "pingback.extensions.getPingbacks", "system.listMethods"]


class Fault(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Call:
    method: str
    params: tuple


def unmarshal(body: bytes) -> tuple[xmlrpc.client.Unmarshaller, tuple]:
    """The XML-RPC document in `body`, read by defusedxml; Fault(-32700) if it is not one. A fault
    answer raises xmlrpc.client.Fault."""
    unmarshaller = xmlrpc.client.Unmarshaller()
    parser = DefusedExpatParser(unmarshaller, forbid_dtd=True)
    try:
        parser.feed(body)
        parser.close()
        params = unmarshaller.close()
    except xmlrpc.client.Fault:
        raise
    except (ExpatError, DefusedXmlException, ValueError, TypeError, IndexError, KeyError,
            xmlrpc.client.ResponseError, OverflowError) as exc:  # fmt: skip
        raise Fault(PARSE_ERROR, f"parse error. not well formed ({exc.__class__.__name__})") from None
    return unmarshaller, tuple(params)


def parse(body: bytes) -> Call:
    """The method call in `body`, or Fault(-32700/-32600)."""
    try:
        unmarshaller, params = unmarshal(body)
    except xmlrpc.client.Fault:  # a methodResponse, not a call
        raise Fault(INVALID_REQUEST, "server error. invalid xml-rpc. not conforming to spec.") from None
    method = unmarshaller.getmethodname()
    if not method:
        raise Fault(INVALID_REQUEST, "server error. invalid xml-rpc. not conforming to spec.")
    return Call(method, params)


def read_answer(body: bytes) -> object:
    """The value of a methodResponse (the sending side); xmlrpc.client.Fault for a fault answer."""
    unmarshaller, params = unmarshal(body)
    if unmarshaller.getmethodname() or len(params) != 1:
        raise Fault(INVALID_REQUEST, "not an XML-RPC answer")
    return params[0]


def answer(value: object) -> bytes:
    return xmlrpc.client.dumps((value,), methodresponse=True, encoding="UTF-8").encode()


def fault(code: int, message: str) -> bytes:
    return xmlrpc.client.dumps(xmlrpc.client.Fault(code, message), methodresponse=True, encoding="UTF-8").encode()


def two_strings(params: tuple) -> tuple[str, str]:
    if len(params) != 2 or not all(isinstance(p, str) for p in params):
        raise Fault(INVALID_PARAMS, "server error. wrong number of method parameters: expected two strings.")
    return params[0].strip(), params[1].strip()


def outcome_fault(outcome: verification.Outcome) -> Fault | None:
    """The fault a verification done during the call answers with (ARCHIVE_PINGBACK_VERIFY_NOW)."""
    if outcome.stored:
        return None
    if outcome.reason == verification.NO_LINK:
        return Fault(SOURCE_NO_LINK, "The source URL does not contain a link to the target URL, and so cannot "
                                     "be used as a source.")  # fmt: skip
    if outcome.reason == verification.NO_SOURCE:
        return Fault(SOURCE_UNKNOWN, f"The source URL does not exist ({outcome.message}).")
    if outcome.reason == verification.REJECTED and outcome.status == 409:
        return Fault(ALREADY_REGISTERED, "The pingback has already been registered.")
    if outcome.reason == verification.NO_TARGET:
        return Fault(TARGET_UNKNOWN, "The specified target URL does not exist.")
    return Fault(ACCESS_DENIED, outcome.message)


def target_post(target: str, our_host: str) -> Post:
    try:
        return targets.find_post(target, our_host)
    except targets.TargetError as exc:
        code = TARGET_UNKNOWN if exc.unknown else TARGET_INVALID
        raise Fault(code, f"The specified target URL cannot be used as a target: {exc}") from None


def check_ping(source: str, target: str, our_host: str) -> Post:
    """The post a pingback.ping may be queued for, or the Fault to answer (see the module docstring)."""
    if not targets.is_web_url(source):
        raise Fault(GENERIC, "A valid URL was not provided.")
    post = target_post(target, our_host)
    if targets.same_resource(source, target):
        raise Fault(GENERIC, "The source URL and the target URL cannot both point to the same resource.")
    if not post.pings_open:
        raise Fault(ACCESS_DENIED, "Pings are closed for this post.")
    registered = Comment.objects.filter(post=post, kind=Comment.Kind.PINGBACK, source_url=source)
    if registered.exclude(status=Comment.Status.TRASH).exists():
        raise Fault(ALREADY_REGISTERED, "The pingback has already been registered.")
    return post


def get_pingbacks(params: tuple, our_host: str) -> list[str]:
    if len(params) != 1 or not isinstance(params[0], str):
        raise Fault(INVALID_PARAMS, "server error. wrong number of method parameters: expected one URL.")
    post = target_post(params[0].strip(), our_host)
    public = Comment.objects.public().filter(post=post, kind=Comment.Kind.PINGBACK)
    return list(public.order_by("created_at", "id").values_list("source_url", flat=True))


def dispatch(call: Call, our_host: str, ping: Callable[[str, str, Post], str]) -> object:
    """Run `call`; `ping(source, target, post)` queues a checked pingback and returns the answer string."""
    if call.method == "system.listMethods":
        return METHODS
    if call.method == "pingback.extensions.getPingbacks":
        return get_pingbacks(call.params, our_host)
    if call.method == "pingback.ping":
        source, target = two_strings(call.params)
        return ping(source, target, check_ping(source, target, our_host))
    raise Fault(NO_SUCH_METHOD, f"server error. requested method {call.method[:100]} does not exist.")
