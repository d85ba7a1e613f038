"""Helpers for the reply tests: a small DOM built with the standard library's html.parser, and a reader that
fetches the page and posts its form with the headers a browser sends from the site's own page.

Each request that writes runs inside `captureOnCommitCallbacks(execute=True)`: the tests run inside a
transaction that never commits, so the page-cache invalidation that `transaction.on_commit` schedules
would otherwise never run. The callbacks that run are the application's own.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser

from django.test import Client, TestCase
from django.utils import timezone

from archive import markup, policy
from archive.models import Comment, Post

REPLY_URL = "/comments/post/"
VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
)
DUPLICATE = "Duplicate comment detected; it looks as though you’ve already said that!"
FLOOD = "You are posting comments too quickly. Slow down."
AWAITING = "Your comment is awaiting moderation."
_serial = itertools.count(1)


# --- A DOM good enough for assertions ------------------------------------------------------------------


class Element:
    def __init__(self, tag: str, attrs: list[tuple[str, str | None]], parent: Element | None):
        self.tag = tag
        self.attr_list = attrs
        self.attrs = {name: value for name, value in attrs}
        self.parent = parent
        self.children: list[Element | str] = []

    def __repr__(self) -> str:
        return f"<{self.tag} {self.attrs}>"

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.attrs.get(name, default)

    @property
    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()

    def iter(self) -> Iterator[Element]:
        """Every element below this one, in document order."""
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.iter()

    def find_all(self, tag: str | None = None, *, id: str | None = None, cls: str | None = None) -> list[Element]:
        return [
            el
            for el in self.iter()
            if (tag is None or el.tag == tag)
            and (id is None or el.attrs.get("id") == id)
            and (cls is None or cls in el.classes)
        ]

    def kids(self, tag: str | None = None, *, cls: str | None = None) -> list[Element]:
        """Direct child elements only."""
        return [
            el
            for el in self.children
            if isinstance(el, Element) and (tag is None or el.tag == tag) and (cls is None or cls in el.classes)
        ]

    def find(self, tag: str | None = None, *, id: str | None = None, cls: str | None = None) -> Element | None:
        found = self.find_all(tag, id=id, cls=cls)
        return found[0] if found else None

    def one(self, tag: str | None = None, *, id: str | None = None, cls: str | None = None) -> Element:
        found = self.find_all(tag, id=id, cls=cls)
        assert len(found) == 1, f"expected one {tag or ''}#{id or ''}.{cls or ''}, found {len(found)}"
        return found[0]

    def text(self) -> str:
        parts = []
        for child in self.children:
            parts.append(child.text() if isinstance(child, Element) else child)
        return "".join(parts)

    def squashed_text(self) -> str:
        return " ".join(self.text().split())

    def ancestors(self) -> Iterator[Element]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", [], None)
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        element = Element(tag, attrs, self.current)
        self.current.children.append(element)
        if tag not in VOID:
            self.current = element

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Element(tag, attrs, self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(html: str | bytes) -> Element:
    builder = _Builder()
    builder.feed(html.decode("utf-8") if isinstance(html, bytes) else html)
    builder.close()
    return builder.root


def scripts(doc: Element) -> list[Element]:
    """The page's <script> elements that run: the article's JSON-LD is a data block, not script (a browser
    never executes it, and CSP's script-src does not apply to it)."""
    return [el for el in doc.find_all("script") if (el.get("type") or "").lower() != "application/ld+json"]


# --- What the page shows ---------------------------------------------------------------------------------


def comment_item(doc: Element, pk: int) -> Element | None:
    return doc.find("li", id=f"comment-{pk}")


def comment_ids(doc: Element) -> list[int]:
    return [
        int(li.attrs["id"].split("-")[1]) for li in doc.find_all("li") if (li.get("id") or "").startswith("comment-")
    ]


def commentlist(doc: Element) -> Element | None:
    return doc.find("ol", cls="commentlist")


def heading(doc: Element) -> str:
    return doc.one("h2", id="comments").squashed_text()


def reply_form(doc: Element) -> Element | None:
    return doc.find("form", id="commentform")


def form_values(doc: Element) -> dict[str, object]:
    """What the reply form holds: text values, the textarea's text, checkboxes as True/False."""
    form = reply_form(doc)
    assert form is not None, "no reply form on the page"
    values: dict[str, object] = {}
    for el in form.iter():
        name = el.get("name")
        if not name:
            continue
        if el.tag == "textarea":
            values[name] = el.text()
        elif el.tag == "input" and el.get("type") == "submit":
            continue  # a browser sends only the button clicked (fill_in: "Post Comment")
        elif el.tag == "input" and el.get("type") == "checkbox":
            values[name] = "checked" in el.attrs
        elif el.tag == "input":
            values[name] = el.get("value") or ""
    return values


def field_error(doc: Element, name: str) -> str | None:
    """The message shown beside field `name`, checked to be wired to it for assistive technology."""
    span = doc.find("span", id=f"{name}-error")
    if span is None:
        return None
    assert "field-error" in span.classes
    control = doc.one(id=name)
    assert control.get("aria-invalid") == "true"
    assert f"{name}-error" in (control.get("aria-describedby") or "").split()
    assert span.parent is control.parent, "the message is not beside its field"
    return span.squashed_text()


def notice(doc: Element) -> str:
    box = doc.find(id="form-notice")
    return box.squashed_text() if box else ""


# --- A reader with a browser -------------------------------------------------------------------------------


def browser() -> Client:
    return Client(enforce_csrf_checks=True)


def get(client: Client, url: str, **query) -> tuple[object, Element]:
    response = client.get(url, query or None)
    return response, parse(response.content)


def unique_email() -> str:
    return f"reader{next(_serial)}@example.com"


def fields_for(post: Post, **fields) -> dict[str, object]:
    """The reply form as a reader fills it; a value of None leaves the field out."""
    data: dict[str, object] = {
        "comment": f"A thoughtful reply number {next(_serial)}.",
        "author": "Reader",
        "email": "reader@example.com",
        "url": "",
        "comment_post_ID": str(post.pk),
        "comment_parent": "0",
        "submit": "Post Comment",
    }
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


# What a browser says when a page of this site posts its own form.
SAME_ORIGIN = {"HTTP_ORIGIN": "http://testserver", "HTTP_SEC_FETCH_SITE": "same-origin"}


def send(client: Client, data: dict, **extra):
    """POST to the reply URL from the site's own page, the page cache told of the commit as in production."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(REPLY_URL, data, **{**SAME_ORIGIN, **extra})


def submit(client: Client, post: Post, *, page: str | None = None, remote_addr: str = "127.0.0.1", **fields):
    """Open the page and post the reply form. Returns the POST's response."""
    response = client.get(page or post.get_absolute_url())
    assert response.status_code == 200
    return send(client, fields_for(post, **fields), REMOTE_ADDR=remote_addr)


def fill_in(client: Client, url: str, *, remote_addr: str = "127.0.0.1", **typed):
    """What a browser does: load `url`, keep every value the form was served with (hidden fields, a
    pre-filled name, a ticked box), type `typed` over them, and submit."""
    response = client.get(url)
    assert response.status_code == 200
    data: dict[str, object] = {}
    for name, value in form_values(parse(response.content)).items():
        if value is True:
            data[name] = "yes"
        elif value is not False:
            data[name] = value
    data["submit"] = "Post Comment"
    data.update(typed)
    data = {key: value for key, value in data.items() if value is not None}
    return send(client, data, REMOTE_ADDR=remote_addr)


LOCATION = re.compile(r"^(?P<path>[^#?]*)#comment-(?P<pk>\d+)$")


def redirected_id(response) -> int:
    assert response.status_code in (302, 303), (response.status_code, response.content[:2000])
    match = LOCATION.match(response["Location"])
    assert match, response["Location"]
    return int(match["pk"])


def follow(client: Client, response) -> tuple[object, Element]:
    page = client.get(response["Location"].split("#")[0])
    return page, parse(page.content)


# --- Responses already stored (set-up only; what is tested goes through HTTP) ------------------------------


def make_comment(
    post: Post,
    content: str = "",
    *,
    parent: Comment | None = None,
    status: str = Comment.Status.APPROVED,
    kind: str = Comment.Kind.COMMENT,
    author: str = "",
    email: str = "",
    url: str = "",
    minutes_ago: float | None = None,
    **extra,
) -> Comment:
    n = next(_serial)
    content = content or f"Stored reply {n}."
    author = author or f"Stored author {n}"
    candidate = policy.Candidate(
        post=post, kind=kind, parent=parent, author=author, email=email, url=url, content=content
    )
    created = timezone.now() - timedelta(minutes=minutes_ago) if minutes_ago is not None else timezone.now()
    with TestCase.captureOnCommitCallbacks(execute=True):
        return Comment.objects.create(
            post=post,
            parent=parent,
            thread=(parent.thread or parent) if parent else None,
            kind=kind,
            status=status,
            author=author,
            author_email=email,
            author_url=url,
            content=content,
            content_html=markup.render_comment(content) if kind == Comment.Kind.COMMENT else "",
            created_at=created,
            dedupe_key=candidate.dedupe_key(),
            **extra,
        )


def open_rules(settings, moderation: str = "open") -> None:
    """Publish at once and never count a flood, for tests about something else."""
    settings.ARCHIVE_COMMENT_MODERATION = moderation
    settings.ARCHIVE_COMMENT_FLOOD_SECONDS = 0


# --- Proof that a fragment of HTML is inert -------------------------------------------------------------------

FORBIDDEN_ELEMENTS = frozenset(
    {
        "script",
        "iframe",
        "frame",
        "frameset",
        "object",
        "embed",
        "applet",
        "form",
        "input",
        "button",
        "svg",
        "math",
        "img",
        "image",
        "video",
        "audio",
        "source",
        "link",
        "meta",
        "base",
        "style",
        "textarea",
        "select",
        "template",
    }
)
URL_ATTRIBUTES = frozenset(
    {
        "href",
        "src",
        "action",
        "formaction",
        "data",
        "xlink:href",
        "background",
        "poster",
        "cite",
        "srcset",
        "lowsrc",
        "dynsrc",
    }
)
BAD_SCHEMES = ("javascript:", "data:", "vbscript:", "livescript:")


def squeeze(value: str) -> str:
    """A URL as a browser reads its scheme: control characters and whitespace ignored, any case."""
    return "".join(ch for ch in value if ord(ch) > 0x20 and ch != "\x7f").lower()


AVATAR_ATTRIBUTES = {"class", "src", "alt", "width", "height", "loading"}


def is_site_avatar(el: Element) -> bool:
    """The avatar the thread shows beside a reply: an <img> of this site's /avatars/, nothing more."""
    return (
        el.tag == "img"
        and "avatar" in (el.get("class") or "").split()
        and (el.get("src") or "").startswith("/avatars/")
        and {name for name, _ in el.attr_list} <= AVATAR_ATTRIBUTES
    )


def dangers(root: Element) -> list[str]:
    """Everything in `root` that could run script, load something or restyle the page (the site's own
    avatars apart)."""
    found = []
    for el in root.iter():
        if is_site_avatar(el):
            continue
        if el.tag in FORBIDDEN_ELEMENTS:
            found.append(f"<{el.tag}> element")
        for name, value in el.attr_list:
            name = name.lower()
            if name.startswith("on"):
                found.append(f"{name} attribute on <{el.tag}>")
            if name == "style":
                found.append(f"style attribute on <{el.tag}>")
            if name in URL_ATTRIBUTES and value and squeeze(value).startswith(BAD_SCHEMES):
                found.append(f"{name}={value!r} on <{el.tag}>")
    return found


XSS_VECTORS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//xss.example.com/xss.js></SCRIPT>",
    "<ScRiPt>alert(String.fromCharCode(88,83,83))</sCrIpT>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=\"javascript:alert('XSS');\">",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "[click me](javascript:alert(1))",
    "[click me](JaVaScRiPt:alert(1))",
    "[click me](jav&#x61;script:alert(1))",
    "[click me](jav&#97;script&#58;alert(1))",
    "[click me](java\tscript:alert(1))",
    "[click me]( javascript:alert(1))",
    "[click me](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click me](vbscript:msgbox(1))",
    "[ref link][1]\n\n[1]: javascript:alert(1)",
    "[angle](<javascript:alert(1)>)",
    "<javascript:alert(1)>",
    '<a href="javascript:alert(1)">raw link</a>',
    "<a href=x onmouseover=alert(1)>hover</a>",
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">entities</a>',
    "<a href=data:text/html,<script>alert(1)</script>>data</a>",
    "![pic](javascript:alert(1))",
    "![pic](https://images.example.com/a.png)",
    "![pic](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "<iframe src=javascript:alert(1)></iframe>",
    "<object data=javascript:alert(1)></object>",
    "<embed src=javascript:alert(1)>",
    "<form action=javascript:alert(1)><input type=submit></form>",
    '<p style="background:url(javascript:alert(1))">styled</p>',
    "<b style=color:red>bold</b>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<<script>script>alert(1)<</script>/script>",
    "<div>\n<script>alert(1)</script>\n</div>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<!--<img src=x onerror=alert(1)>-->",
    '<http://example.com/" onmouseover="alert(1)>',
    '[title](https://example.com "\\" onmouseover=alert(1) x=\\"")',
    "*[emph](javascript:alert(1))*",
    "> [quoted](vbscript:alert(1))",
    "- [listed](data:text/html,hi)",
    "```\n<script>alert(1)</script>\n```",
    "`<img src=x onerror=alert(1)>`",
    "<body onload=alert(1)>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "<base href=javascript:alert(1)//>",
    "<details open ontoggle=alert(1)>",
    '<a href="\x01javascript:alert(1)">control char</a>',
    "[ctl](\x01javascript:alert(1))",
]


def set_status(pk: int, status: str) -> Comment:
    """A moderator's change saved through the model, its commit telling the page cache."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        comment = Comment.objects.get(pk=pk)
        comment.status = status
        comment.save()
    return comment
