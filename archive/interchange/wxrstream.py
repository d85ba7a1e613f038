"""A WXR file as a stream of <item> elements, each with the exact bytes it was written as.

The file is fed to defusedxml's parser in chunks (iterparse's machinery, with a target of our own), so
memory holds one item at a time whatever the file's size: each item is taken out of the tree once read.
defusedxml refuses DTDs, entity declarations and external references (billion laughs, XXE) as they are
read. Byte offsets come from expat itself, so an item's original is the file's bytes, not a re-serialisation.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

CHUNK = 64 * 1024
# WXR 1.0, 1.1 and 1.2 differ in the wp namespace's version only: all are read as "wp:".
PREFIXES = {
    "http://purl.org/rss/1.0/modules/content/": "content:",
    "http://purl.org/dc/elements/1.1/": "dc:",
    "http://wellformedweb.org/CommentAPI/": "wfw:",
}
WP_NAMESPACE = re.compile(r"^http://wordpress\.org/export/1\.\d+/(excerpt/)?$")


class WxrError(Exception):
    """The file cannot be read as a WordPress export; `line` is where the reading stopped."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


def short_tag(tag: str) -> str:
    """`{http://wordpress.org/export/1.2/}post_id` → `wp:post_id` (and so for content:, dc:, excerpt:)."""
    if not tag.startswith("{"):
        return tag
    uri, local = tag[1:].split("}", 1)
    version = WP_NAMESPACE.match(uri)
    if version:
        return ("excerpt:" if version.group(1) else "wp:") + local
    return PREFIXES.get(uri, "{" + uri + "}") + local


def text(element: Element, tag: str, default: str = "") -> str:
    """The text of the first child named `tag` (names as `short_tag` writes them)."""
    for child in element:
        if child.tag == tag:
            return child.text or ""
    return default


@dataclass
class Channel:
    """What the export says about the whole blog (all of it comes before the first item)."""

    site_url: str = ""
    blog_url: str = ""
    title: str = ""
    wxr_version: str = ""
    authors: dict[str, str] = field(default_factory=dict)  # login → display name (WXR 1.0 has none)

    @property
    def identity(self) -> str:
        """The blog's address, half of every post's identity (with its wp:post_id)."""
        return (self.blog_url or self.site_url).rstrip("/")


@dataclass
class RawItem:
    element: Element
    raw: bytes


class _Target:
    """A TreeBuilder that reports each finished <item> with its byte span and drops it from the tree."""

    def __init__(self, channel: Channel):
        self.builder = TreeBuilder()
        self.channel = channel
        self.stack: list[Element] = []
        self.expat = None  # set once the parser exists
        self.item_start: int | None = None
        self.finished: list[tuple[Element, int, int]] = []

    def start(self, tag: str, attrib: dict) -> Element:
        tag = short_tag(tag)
        if not self.stack and tag != "rss":
            raise WxrError(f"not a WordPress export: the root element is <{tag}>, not <rss>")
        if len(self.stack) == 2 and tag == "item":
            if not self.channel.identity:
                raise WxrError("not a WordPress export: no wp:base_blog_url before the first item")
            self.item_start = self.expat.CurrentByteIndex
        element = self.builder.start(tag, attrib)
        self.stack.append(element)
        return element

    def data(self, data: str) -> None:
        self.builder.data(data)

    def end(self, tag: str) -> Element:
        element = self.builder.end(short_tag(tag))
        self.stack.pop()
        if len(self.stack) == 2:  # a child of <channel>: read, then let go of it
            self.stack[1].remove(element)
            if element.tag == "item":
                self.finished.append((element, self.item_start, self.expat.CurrentByteIndex))
                self.item_start = None
            else:
                self.read_channel(element)
        return element

    def read_channel(self, element: Element) -> None:
        channel = self.channel
        if element.tag == "wp:author":
            login = text(element, "wp:author_login")
            channel.authors[login] = text(element, "wp:author_display_name")  # "": listed, but nameless
        elif element.tag == "wp:base_blog_url":
            channel.blog_url = (element.text or "").strip()
        elif element.tag == "wp:base_site_url":
            channel.site_url = (element.text or "").strip()
        elif element.tag == "title":
            channel.title = element.text or ""
        elif element.tag == "wp:wxr_version":
            channel.wxr_version = (element.text or "").strip()

    def close(self) -> None:
        self.builder.close()


@dataclass
class WxrReader:
    """Iterate over `items()`; afterwards `channel` and `sha256` describe the whole file."""

    stream: BinaryIO
    channel: Channel = field(default_factory=Channel)
    sha256: str = ""

    def items(self) -> Iterator[RawItem]:
        target = _Target(self.channel)
        parser = DefusedXMLParser(target=target, forbid_dtd=True)
        target.expat = parser.parser
        digest = hashlib.sha256()
        window, window_start, fed = bytearray(), 0, 0
        while True:
            chunk = self.stream.read(CHUNK)
            digest.update(chunk)
            window += chunk
            fed += len(chunk)
            try:
                if chunk:
                    parser.feed(chunk)
                else:
                    parser.close()
            except WxrError as exc:
                raise WxrError(str(exc), parser.parser.CurrentLineNumber) from None
            except ParseError as exc:
                message = str(exc).split(": line ")[0]
                if message == "no element found" and fed:
                    message = "the file ends before the export does (truncated?)"
                raise WxrError(message, exc.position[0]) from None
            except DefusedXmlException as exc:
                raise WxrError(f"refused: {refusal(exc)}", parser.parser.CurrentLineNumber) from None
            for element, start, end in target.finished:
                close = window.index(b">", end - window_start)
                yield RawItem(element, bytes(window[start - window_start : close + 1]))
            target.finished.clear()
            keep = target.item_start if target.item_start is not None else fed
            del window[: keep - window_start]
            window_start = keep
            if not chunk:
                break
        self.sha256 = digest.hexdigest()


def refusal(exc: DefusedXmlException) -> str:
    name = type(exc).__name__
    if name == "DTDForbidden":
        return "the file declares a DTD (a WordPress export has none; its entities could expand or fetch files)"
    if name == "EntitiesForbidden":
        return "the file declares entities (a WordPress export has none)"
    return "the file refers to external entities"
