"""Moderators' actions. Bulk updates bypass model signals, so the public change is announced here, and
responses made public are announced to their subscribers (archive.notify)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from . import notify, tasks
from .models import Comment
from .signals import public_change


def set_status(comments: QuerySet[Comment], status: str) -> int:
    """Move `comments` to `status`; returns how many changed. `modified_at` moves too (update() skips
    auto_now), and the posts' update time with it, so their pages' Last-Modified follows moderation.

    A response taken out of the trash may repeat one posted again since (the same reply, or the same
    ping URL): the database keeps one copy outside the trash, so that one stays in the trash."""
    now = timezone.now()
    todo = comments.exclude(status=status)
    post_ids = set(todo.values_list("post_id", flat=True))
    published = list(todo.values_list("pk", flat=True)) if status == Comment.Status.APPROVED else []
    changed = 0
    if status != Comment.Status.TRASH:
        for pk in list(todo.filter(status=Comment.Status.TRASH).values_list("pk", flat=True)):
            try:
                with transaction.atomic():
                    changed += Comment.objects.filter(pk=pk).update(status=status, modified_at=now)
            except IntegrityError:
                continue
        todo = todo.exclude(status=Comment.Status.TRASH)
    changed += todo.update(status=status, modified_at=now)
    if changed:
        public_change(post_ids, at=now)
        tasks.queue_announcement(published, notify.PUBLISHED)
    return changed
