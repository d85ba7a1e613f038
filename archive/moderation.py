"""Moderators' actions. Bulk updates bypass model signals, so the page cache is told here explicitly."""

from __future__ import annotations

from django.db.models import QuerySet

from . import pagecache
from .models import Comment


def set_status(comments: QuerySet[Comment], status: str) -> int:
    changed = comments.exclude(status=status).update(status=status)
    if changed:
        pagecache.invalidate()
    return changed
