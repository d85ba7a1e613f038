"""Seed bytes → a parsed article. No HTTP, no ORM: the importer and the page both lean on this.

A seed is a WordPress post scraped as plain text: the first non-empty line is the title, paragraphs are
separated by blank lines, and the theme's chrome ("Leave a Reply", "Powered by WordPress | …") trails the
article. The text is never interpreted as markup: what a block holds is shown character for character.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

UTF8_BOM = b"\xef\xbb\xbf"
# C0 controls, DEL and C1 controls, but TAB, LF, FF and CR: terminal escapes, bells and backspaces would
# reach the page raw (the HTML parser calls them errors, screen readers may spell them out).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")

# Lines a WordPress theme prints around a post. They are recognised only at the end of the text, so an
# article that quotes one of them in the middle keeps it.
CHROME_PATTERNS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^Source Article from\b.*$",
        r"^You can leave a response, or trackback from your own site\.?$",
        r"^You can skip to the end and leave a response\. Pinging is currently not allowed\.?$",
        r"^Responses are currently closed, but you can trackback from your own site\.?$",
        r"^Both comments and pings are currently closed\.?$",
        r"^Comments are closed\.?$",
        r"^Leave a (Reply|Comment)$",
        r"^(No|One|\d+) (Responses?|Comments?)( yet)?( to .*)?$",
        r"^Powered by WordPress\b.*$",
        r"^This entry was posted on .* and is filed under .*$",
    )
]

# "READ MORE: …", "RELATED: …": a label in capitals keeps a line a line, however short.
LABEL_LINE = re.compile(r"^[A-Z][A-Z ]{2,}:")
SENTENCE_END = ".!?…,;:"
CLOSERS = "\"'”’»)]"
SUBHEADING_MAX_CHARS = 120


class SeedError(ValueError):
    """The file cannot be archived; the message says why, for the operator."""


@dataclass(frozen=True)
class Block:
    kind: str  # "p" or "h2"
    text: str


@dataclass(frozen=True)
class ParsedSeed:
    title: str
    body: str
    encoding: str
    sha256: str
    chrome: list[str] = field(default_factory=list)
    controls_removed: int = 0  # control characters stripped from the text (the original bytes keep them)

    @property
    def blocks(self) -> list[Block]:
        return split_blocks(self.body)


def decode(raw: bytes) -> tuple[str, str]:
    """Return the text and the encoding it was read with: UTF-8 (with or without BOM), else Windows-1252."""
    if b"\x00" in raw:
        raise SeedError("contains NUL bytes: not a text file")
    if raw.startswith(UTF8_BOM):
        try:
            return raw[len(UTF8_BOM) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise SeedError(f"starts with a UTF-8 BOM but is not valid UTF-8 (byte {exc.start})") from None
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    # Real UTF-8 sequences beside invalid bytes: a mixed file, which Windows-1252 would turn into mojibake.
    if any(ord(ch) > 0x7F and ch != "\ufffd" for ch in raw.decode("utf-8", errors="replace")):
        raise SeedError(f"mixes UTF-8 with bytes that are not UTF-8 (byte {first_bad}): refusing to guess")
    try:
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        raise SeedError(f"is neither UTF-8 nor Windows-1252 text (byte {exc.start})") from None


# Python's codec names of `decode`'s results → the IANA charset names HTTP and browsers use.
IANA_CHARSETS = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "cp1252": "windows-1252"}


def iana_charset(encoding: str) -> str:
    """The charset to declare for bytes that `decode` read with `encoding` (a BOM is part of UTF-8)."""
    return IANA_CHARSETS.get(encoding, encoding)


def paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs; lines inside a paragraph keep their own spacing."""
    result: list[str] = []
    current: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            current.append(line.rstrip())
        elif current:
            result.append("\n".join(current))
            current = []
    if current:
        result.append("\n".join(current))
    return result


def is_chrome(paragraph: str) -> bool:
    return "\n" not in paragraph and any(p.match(paragraph.strip()) for p in CHROME_PATTERNS)


def is_subheading(paragraph: str) -> bool:
    """A short standalone line that does not end a sentence, e.g. "On Russia’s global ambitions: ‘…’"."""
    line = paragraph.strip()
    if paragraph[:1].isspace():  # an indented line is quoted or code-like text, shown as written
        return False
    if "\n" in paragraph or len(line) > SUBHEADING_MAX_CHARS or LABEL_LINE.match(line):
        return False
    core = line.rstrip(CLOSERS)
    return bool(core) and core[-1] not in SENTENCE_END and any(ch.isalpha() for ch in core)


def split_blocks(body: str) -> list[Block]:
    paras = paragraphs(body)
    blocks = []
    for index, para in enumerate(paras):
        between = 0 < index < len(paras) - 1
        blocks.append(Block("h2" if between and is_subheading(para) else "p", para))
    return blocks


def parse(raw: bytes) -> ParsedSeed:
    text, encoding = decode(raw)
    text, controls_removed = CONTROL_CHARACTERS.subn("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise SeedError("is empty or blank")
    title = lines[first].strip()
    paras = paragraphs("\n".join(lines[first + 1 :]))
    chrome: list[str] = []
    while paras and is_chrome(paras[-1]):
        chrome.insert(0, paras.pop().strip())
    return ParsedSeed(
        title=title,
        body="\n\n".join(paras),
        encoding=encoding,
        sha256=hashlib.sha256(raw).hexdigest(),
        chrome=chrome,
        controls_removed=controls_removed,
    )
