"""Changes to what the public sees invalidate the page cache once the transaction commits.

A new response that is not public (held, spam) changes no cached page, so it leaves the cache alone: a
flood of held replies must not push every reader onto the uncached path. Any later save of a response
may have moved it into or out of public view, and deletions and post changes always may.
"""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from . import pagecache
from .models import Comment, Post


@receiver(post_save, sender=Comment)
def invalidate_for_response(instance: Comment, created: bool, **kwargs) -> None:
    if instance.is_public or not created:
        transaction.on_commit(pagecache.invalidate)


@receiver(post_delete, sender=Comment)
@receiver([post_save, post_delete], sender=Post)
def invalidate_pages(**kwargs) -> None:
    transaction.on_commit(pagecache.invalidate)
