"""Changes to what the public sees move the post's update time (its pages' Last-Modified) and, once the
transaction commits, the page cache on.

A new response that is not public (held, spam) changes no page, so it leaves both alone: a flood of held
replies must not push every reader onto the uncached path. Any later save of a response may have moved it
into or out of public view, and deletions and post changes always may.

Every new response (reply, TrackBack, Pingback, Webmention; not an import's bulk rows) is also announced,
once committed, to whoever is to be told by mail (archive.notify, through one task).
"""

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from . import notify, pagecache, tasks
from .models import Comment, Post


def public_change(post_ids: Iterable[int], at: datetime | None = None) -> None:
    """What readers of these posts see has changed (bulk updates, which send no signal, call this too)."""
    Post.objects.filter(pk__in=set(post_ids)).update(updated_at=at or timezone.now())
    transaction.on_commit(pagecache.invalidate)


@receiver(post_save, sender=Comment)
def invalidate_for_response(instance: Comment, created: bool, raw: bool = False, **kwargs) -> None:
    if not raw and (instance.is_public or not created):
        public_change([instance.post_id])
    if created and not raw and instance.status in (Comment.Status.PENDING, Comment.Status.APPROVED):
        tasks.queue_announcement([instance.pk], notify.STORED)  # spam is told to nobody


@receiver(post_delete, sender=Comment)
def invalidate_for_removed_response(instance: Comment, **kwargs) -> None:
    public_change([instance.post_id])


@receiver([post_save, post_delete], sender=Post)
def invalidate_pages(**kwargs) -> None:
    transaction.on_commit(pagecache.invalidate)
