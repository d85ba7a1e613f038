"""Seed files → Post rows. The identity of an import is the file's name: the same name with the same bytes
is "unchanged", with other bytes "updated" (the slug, once given, never changes: it is a permalink)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from . import seeds
from .models import Post

SLUG_MAX = 200
TITLE_MAX = Post._meta.get_field("title").max_length
SOURCE_NAME_MAX = Post._meta.get_field("source_name").max_length
RESERVED_SLUGS = frozenset({"admin", "static", "comments", "feed"})  # first path segments the site itself uses


@dataclass(frozen=True)
class ImportResult:
    name: str
    outcome: str  # "created", "updated", "unchanged" or "error"
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.outcome == "error"

    def __str__(self) -> str:
        return f"{self.name}: {self.outcome}" + (f": {self.detail}" if self.detail else "")


def unique_slug(title: str) -> str:
    """WordPress's rule: the title's slug, then -2, -3, … while another post holds it."""
    return free_slug(slugify(title))


def free_slug(wanted: str) -> str:
    """`wanted` (already a slug) if no post holds it and the site does not use it, else wanted-2, -3, …"""
    base = wanted[: SLUG_MAX - 8].strip("-") or "post"
    slug, n = base, 1
    while slug in RESERVED_SLUGS or Post.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def import_note(parsed: seeds.ParsedSeed) -> str:
    """What the operator should know about how the text was read: a guessed encoding, stripped controls."""
    notes = []
    if parsed.encoding == "cp1252":
        notes.append("decoded as Windows-1252")
    if parsed.controls_removed:
        plural = "s" if parsed.controls_removed > 1 else ""
        notes.append(f"removed {parsed.controls_removed} control character{plural}")
    return "; ".join(notes)


def import_file(path: Path) -> ImportResult:
    name = path.name
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes in the name: neither the database nor a terminal takes it
        shown = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        return ImportResult(shown, "error", "file name is not valid UTF-8; rename the file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return ImportResult(name, "error", f"cannot be read ({exc.strerror or exc})")
    try:
        parsed = seeds.parse(raw)
    except seeds.SeedError as exc:
        return ImportResult(name, "error", str(exc))
    if len(name) > SOURCE_NAME_MAX or len(parsed.title) > TITLE_MAX:  # a strict database would refuse the row
        too_long = "file name" if len(name) > SOURCE_NAME_MAX else "title"
        limit = SOURCE_NAME_MAX if too_long == "file name" else TITLE_MAX
        return ImportResult(name, "error", f"{too_long} is longer than {limit} characters")
    note = import_note(parsed)
    fields = {
        "title": parsed.title,
        "body": parsed.body,
        "original": raw,
        "sha256": parsed.sha256,
        "encoding": parsed.encoding,
        "chrome": parsed.chrome,
    }
    with transaction.atomic():
        post = Post.objects.filter(source_name=name).first()
        if post is None:
            Post.objects.create(source_name=name, slug=unique_slug(parsed.title), **fields)
            return ImportResult(name, "created", note)
        if post.sha256 == parsed.sha256:
            return ImportResult(name, "unchanged")
        for key, value in fields.items():
            setattr(post, key, value)
        post.imported_at = timezone.now()  # the page says when the copy it shows was imported
        post.save()
        return ImportResult(name, "updated", note)
