"""Saving or deleting a post or a response invalidates the page cache once the transaction commits."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from . import pagecache
from .models import Comment, Post


@receiver([post_save, post_delete], sender=Comment)
@receiver([post_save, post_delete], sender=Post)
def invalidate_pages(**kwargs) -> None:
    transaction.on_commit(pagecache.invalidate)
