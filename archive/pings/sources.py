"""What a fetched source says about a target: does it link there, what is it called, what is the text
around the link, and (for Webmention) the microformats2 h-entry: author, content, published and whether
it is a reply, like, repost, bookmark or plain mention. No HTTP here: `fetch` brings the bytes.

"Links to" means what the Webmention spec says: in HTML an exact match of the target URL in an
`<a href>`, `<area href>`, `<link href>`, `<img src>`, `<video src>`, `<audio src>` or `<source src>`
(relative references resolved against the source, as a browser would follow them); in plain text the URL
anywhere in the body; in JSON a string value equal to it. Other types never link.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin

import mf2py
from bs4 import BeautifulSoup, Tag
from django.utils.dateparse import parse_datetime

LINK_ATTRIBUTES = {"a": "href", "area": "href", "link": "href", "img": "src", "video": "src", "audio": "src",
                   "source": "src"}  # fmt: skip
BLOCKS = ("p", "li", "td", "th", "dd", "dt", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "div",
          "article", "section", "body")  # fmt: skip
MENTION_PROPERTIES = (("in-reply-to", "reply"), ("like-of", "like"), ("repost-of", "repost"),
                      ("bookmark-of", "bookmark"))  # fmt: skip
CONTEXT = 100  # characters either side of the link, as WordPress's pingback excerpt
LINK_TEXT_MAX = 100
TITLE_MAX = 250
NAME_MAX = 245
CONTENT_MAX = 5000
WHITESPACE = re.compile(r"\s+")
SPACE_BEFORE_PUNCTUATION = re.compile(r" ([.,;:!?])")
ELLIPSIS = "…"


@dataclass
class Source:
    links: bool
    title: str = ""
    excerpt: str = ""  # WordPress's pingback excerpt: "[…] text around the link […]"
    mention_type: str = "mention"
    author_name: str = ""
    author_url: str = ""
    content: str = ""  # the h-entry's text (never its HTML)
    published: datetime | None = None


def squash(text: str, limit: int) -> str:
    """Spaces collapsed (and none left before punctuation, where joining the text of tags put one)."""
    text = SPACE_BEFORE_PUNCTUATION.sub(r"\1", WHITESPACE.sub(" ", text)).strip()
    return text if len(text) <= limit else text[:limit].rstrip() + ELLIPSIS


def read(body: bytes, content_type: str, charset: str, source_url: str, target: str) -> Source:
    """Everything the archive keeps from a fetched source (see the module docstring)."""
    text = body.decode(charset if charset else "utf-8", "replace") if body else ""
    if content_type in ("text/html", "application/xhtml+xml"):
        return read_html(text, source_url, target)
    if content_type == "application/json" or content_type.endswith("+json"):
        return Source(links=json_links(text, target))
    if content_type.startswith("text/"):
        return Source(links=target in text)
    return Source(links=False)


def json_links(text: str, target: str) -> bool:
    try:
        stack = [json.loads(text)]
    except ValueError:
        return False
    while stack:
        value = stack.pop()
        if value == target:
            return True
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def linking_elements(soup: BeautifulSoup, source_url: str, target: str) -> list[Tag]:
    found = []
    for element in soup.find_all(list(LINK_ATTRIBUTES)):
        value = element.get(LINK_ATTRIBUTES[element.name])
        if isinstance(value, str) and value.strip() and urljoin(source_url, value.strip()) == target:
            found.append(element)
    return found


def excerpt(link: Tag) -> str:
    """WordPress's pingback excerpt: the text of the link's block, cut to CONTEXT characters either side
    of the link text (itself cut to LINK_TEXT_MAX), in "[…] … […]"."""
    block = link.find_parent(BLOCKS) or link
    link_text = squash(link.get_text(" "), 10**6)
    whole = squash(block.get_text(" "), 10**6)
    at = whole.find(link_text) if link_text else -1
    if at < 0:
        return f"[{ELLIPSIS}] {squash(whole, 2 * CONTEXT)} [{ELLIPSIS}]" if whole else ""
    before = whole[max(0, at - CONTEXT) : at]
    after = whole[at + len(link_text) : at + len(link_text) + CONTEXT]
    shown = link_text if len(link_text) <= LINK_TEXT_MAX else link_text[:LINK_TEXT_MAX] + ELLIPSIS
    return f"[{ELLIPSIS}] {before}{shown}{after} [{ELLIPSIS}]".replace("  ", " ")


def read_html(text: str, source_url: str, target: str) -> Source:
    soup = BeautifulSoup(text, "html.parser")
    links = linking_elements(soup, source_url, target)
    if not links:
        return Source(links=False)
    title = squash(soup.title.get_text(), TITLE_MAX) if soup.title else ""
    source = Source(links=True, title=title, excerpt=excerpt(links[0]))
    entry = h_entry(mf2py.parse(doc=soup, url=source_url), target)
    if entry is not None:
        read_entry(entry, target, source)
    return source


def urls_of(values: list) -> list[str]:
    """The URLs of a property: plain strings, or the `url`s (else `value`) of embedded h-cites."""
    urls = []
    for value in values:
        if isinstance(value, str):
            urls.append(value)
        elif isinstance(value, dict):
            urls.extend(u for u in value.get("properties", {}).get("url", []) if isinstance(u, str))
            if isinstance(value.get("value"), str):
                urls.append(value["value"])
    return urls


def entries(items: list) -> list[dict]:
    found = []
    for item in items:
        if "h-entry" in item.get("type", []):
            found.append(item)
        found.extend(entries(item.get("children", [])))
    return found


def h_entry(parsed: dict, target: str) -> dict | None:
    """The h-entry that names the target in a response property, else the first one."""
    candidates = entries(parsed.get("items", []))
    for entry in candidates:
        props = entry.get("properties", {})
        if any(target in urls_of(props.get(name, [])) for name, _ in MENTION_PROPERTIES):
            return entry
    return candidates[0] if candidates else None


def first_text(values: list) -> str:
    for value in values:
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and isinstance(value.get("value"), str):
            return value["value"]
    return ""


def read_entry(entry: dict, target: str, source: Source) -> None:
    props = entry.get("properties", {})
    for name, kind in MENTION_PROPERTIES:
        if target in urls_of(props.get(name, [])):
            source.mention_type = kind
            break
    author = (props.get("author") or [None])[0]
    if isinstance(author, dict):
        author_props = author.get("properties", {})
        source.author_name = squash(first_text(author_props.get("name", [])) or author.get("value", ""), NAME_MAX)
        source.author_url = first_text(author_props.get("url", []))
    elif isinstance(author, str):
        if author.startswith(("http://", "https://")):
            source.author_url = author
        else:
            source.author_name = squash(author, NAME_MAX)
    content = first_text(props.get("content", [])) or first_text(props.get("summary", []))
    source.content = squash(content, CONTENT_MAX)
    name = first_text(props.get("name", []))
    if name and not source.title:
        source.title = squash(name, TITLE_MAX)
    try:
        published = parse_datetime(first_text(props.get("published", [])))
    except ValueError:  # well-formed but impossible, such as month 13
        published = None
    if published is not None and published.tzinfo is None:
        published = published.replace(tzinfo=UTC)
    source.published = published
