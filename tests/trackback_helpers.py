"""Helpers of the TrackBack tests (test_trackback.py, test_send_trackback.py): raw pings, the XML answer, a
small HTML tree to look at the rendered page, and the autodiscovery RDF found in it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import quote
from xml.etree import ElementTree

FORM = "application/x-www-form-urlencoded"
UTF8_FORM = f"{FORM}; charset=utf-8"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DC = "http://purl.org/dc/elements/1.1/"
TB = "http://madskills.com/public/xml/rss/module/trackback/"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def form(**fields: str | bytes) -> bytes:
    """A form body, each value percent-encoded byte for byte (str values as UTF-8), in the order given.
    `blog_name` is spelled as Python allows; bytes values let a test send Latin-1 or broken UTF-8."""
    parts = []
    for name, value in fields.items():
        raw = value if isinstance(value, bytes) else value.encode("utf-8")
        parts.append(f"{name}={quote(raw, safe='')}")
    return "&".join(parts).encode("ascii")


@dataclass(frozen=True)
class Answer:
    error: str
    message: str | None


def xml_answer(response) -> Answer:
    """The TrackBack answer of a response, after checking it is the spec's XML with the right header."""
    assert response["Content-Type"] == "text/xml; charset=utf-8", response["Content-Type"]
    body = response.content
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>'), body[:80]
    root = ElementTree.fromstring(body)
    assert root.tag == "response", body
    assert [child.tag for child in root] in (["error"], ["error", "message"]), body
    message = root.find("message")
    return Answer(root.findtext("error"), None if message is None else message.text)


def assert_accepted(response) -> None:
    assert response.status_code == 200, response.content
    answer = xml_answer(response)
    assert answer == Answer("0", None), answer


def assert_refused(response, message: str | None = None, status: int = 200) -> str:
    """Error 1 with a non-empty message (the spec's MUST); the exact message when one is given."""
    assert response.status_code == status, (response.status_code, response.content)
    answer = xml_answer(response)
    assert answer.error == "1", answer
    assert answer.message and answer.message.strip(), answer
    if message is not None:
        assert answer.message == message
    return answer.message


# --- A small HTML tree, enough to find elements by id, class or attribute and read their text ----------


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element | str] = field(default_factory=list)
    parent: Element | None = None

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    @property
    def text(self) -> str:
        """The text content, whitespace collapsed (entities already decoded by the parser)."""
        pieces: list[str] = []

        def walk(node: Element) -> None:
            for child in node.children:
                if isinstance(child, str):
                    pieces.append(child)
                else:
                    walk(child)

        walk(self)
        return re.sub(r"\s+", " ", "".join(pieces)).strip()

    def iter(self):
        yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Element]:
        """Elements with this tag whose attributes equal the ones given (`class_` = one of the classes)."""
        wanted_class = attrs.pop("class_", None)
        found = []
        for element in self.iter():
            if tag is not None and element.tag != tag:
                continue
            if wanted_class is not None and wanted_class not in element.classes:
                continue
            if all(element.attrs.get(name.replace("_", "-")) == value for name, value in attrs.items()):
                found.append(element)
        return found

    def one(self, tag: str | None = None, **attrs: str) -> Element:
        found = self.find_all(tag, **attrs)
        assert len(found) == 1, f"{len(found)} <{tag} {attrs}> elements"
        return found[0]


class TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.current = self.root
        self.comments: list[str] = []

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {name: value or "" for name, value in attrs}, parent=self.current)
        self.current.children.append(element)
        if tag not in VOID:
            self.current = element

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Element(tag, {n: v or "" for n, v in attrs}, parent=self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)

    def handle_comment(self, data):
        self.comments.append(data)


def parse_html(content: bytes | str) -> TreeBuilder:
    builder = TreeBuilder()
    builder.feed(content.decode("utf-8") if isinstance(content, bytes) else content)
    builder.close()
    return builder


def page_tree(response) -> TreeBuilder:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/html"), response["Content-Type"]
    return parse_html(response.content)


def ping_items(tree: TreeBuilder) -> list[Element]:
    """The trackbacks shown in the responses list: `li#comment-N.trackback`."""
    commentlists = tree.root.find_all("ol", class_="commentlist")
    return [
        li
        for ol in commentlists
        for li in ol.find_all("li", class_="trackback")
        if re.fullmatch(r"comment-\d+", li.attrs.get("id", ""))
    ]


def rdf_comments(tree: TreeBuilder) -> list[str]:
    """The HTML comments of the page that hold an RDF block (the raw text between `<!--` and `-->`)."""
    return [text for text in tree.comments if "rdf:RDF" in text]


@dataclass(frozen=True)
class Discovery:
    about: str
    identifier: str
    title: str
    ping: str


def discover(tree: TreeBuilder, page_url: str) -> Discovery:
    """The spec's client algorithm: parse each embedded RDF block and pick the rdf:Description whose
    dc:identifier is the URL we fetched. Exactly one must match."""
    matches = []
    for text in rdf_comments(tree):
        root = ElementTree.fromstring(text.strip())
        assert root.tag == f"{{{RDF}}}RDF", root.tag
        for description in root.findall(f"{{{RDF}}}Description"):
            if description.get(f"{{{DC}}}identifier") == page_url:
                matches.append(
                    Discovery(
                        about=description.get(f"{{{RDF}}}about"),
                        identifier=description.get(f"{{{DC}}}identifier"),
                        title=description.get(f"{{{DC}}}title"),
                        ping=description.get(f"{{{TB}}}ping"),
                    )
                )
    assert len(matches) == 1, matches
    return matches[0]
