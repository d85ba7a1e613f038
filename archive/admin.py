"""Moderation in the Django admin: responses filtered by status, type and post, with WordPress's bulk
actions. Archived posts are read-only here except their open/closed switches."""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q
from django.utils.html import format_html, format_html_join

from . import markup, moderation, notify, policy, tasks
from .forms import normalise_comment
from .models import Comment, CommentEdit, Post, Subscription


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "imported_at", "comments_open", "pings_open", "public_responses"]
    list_editable = ["comments_open", "pings_open"]
    search_fields = ["title", "slug", "source_name"]
    readonly_fields = ["title", "slug", "body", "source_name", "sha256", "encoding", "chrome", "imported_at",
                       "updated_at", "original_link"]  # fmt: skip
    exclude = ["original"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("original", "body").annotate(
            n_public=Count("comments", filter=Q(comments__status=Comment.Status.APPROVED))
        )

    @admin.display(description="Public responses", ordering="n_public")
    def public_responses(self, obj: Post) -> int:
        return obj.n_public

    @admin.display(description="Original")
    def original_link(self, obj: Post) -> str:
        return format_html('<a href="{}">{}</a>', obj.get_original_url(), obj.source_name)

    def has_add_permission(self, request) -> bool:
        return False  # posts come from seed files only (manage.py import_seeds)


def _status_action(status: str, label: str):
    def action(modeladmin, request, queryset):
        changed = moderation.set_status(queryset, status)
        modeladmin.message_user(request, f"{changed} response(s) changed.", messages.SUCCESS)

    action.__name__ = f"mark_{status}"
    return admin.action(description=label)(action)


class CommentAdminForm(forms.ModelForm):
    """An edited response keeps the reply form's rules: its text is stored as the reply form stores it
    (LF line breaks, the leading indent kept), its key follows the edit, and it may not repeat another
    response outside the trash, nor come out of the trash beside a copy posted since (the database would
    refuse either with an error page)."""

    RESTORE_REFUSED = "Another response of this post outside the trash says the same; leave this one in the trash."

    class Meta:
        model = Comment
        fields = ["status", "author", "author_email", "author_url", "content", "title", "blog_name"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["content"].strip = False  # `normalise_comment` trims, keeping Markdown's indent

    def clean_content(self) -> str:
        return normalise_comment(self.cleaned_data["content"])

    def clean(self):
        cleaned = super().clean()
        comment = self.instance
        candidate = policy.Candidate(
            post=comment.post,
            kind=comment.kind,
            parent=comment.parent,
            author=cleaned.get("author", comment.author),
            email=cleaned.get("author_email", comment.author_email),
            url=cleaned.get("author_url", comment.author_url),
            content=cleaned.get("content", comment.content),
            source_url=comment.source_url,
        )
        self.dedupe_key = candidate.dedupe_key()
        if cleaned.get("status", comment.status) != Comment.Status.TRASH:
            try:
                policy.check_duplicate(candidate, self.dedupe_key, edited=comment)
            except policy.Rejected as refusal:
                restoring = comment.status == Comment.Status.TRASH
                raise forms.ValidationError(self.RESTORE_REFUSED if restoring else refusal.message) from None
        return cleaned


class PostFilter(admin.RelatedFieldListFilter):
    """Posts by title and slug: two archived posts may share a title, never a slug."""

    def field_choices(self, field, request, model_admin):
        ordering = self.field_admin_ordering(field, request, model_admin) or ()
        posts = Post.objects.only("title", "slug").order_by(*ordering)
        return [(p.pk, f"{p.title} ({p.slug})") for p in posts]


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    form = CommentAdminForm
    list_display = ["display_author", "kind", "mention_type", "status", "post", "created_at", "excerpt", "ip_address"]
    list_filter = ["status", "kind", "mention_type", ("post", PostFilter)]
    list_select_related = ["post"]
    search_fields = ["author", "author_email", "author_url", "content", "title", "blog_name", "source_url",
                     "ip_address"]  # fmt: skip
    date_hierarchy = "created_at"
    # The thread's shape is the readers': parent and thread are shown, not edited (a parent of another
    # post, or the comment itself, would hide it or its replies).
    readonly_fields = ["post", "kind", "mention_type", "source_url", "published_at", "parent", "thread",
                       "content_html", "ip_address", "user_agent", "created_at", "modified_at",
                       "earlier_texts"]  # fmt: skip
    actions = [
        _status_action(Comment.Status.APPROVED, "Approve"),
        _status_action(Comment.Status.PENDING, "Unapprove"),
        _status_action(Comment.Status.SPAM, "Mark as spam"),
        _status_action(Comment.Status.TRASH, "Move to trash"),
    ]

    @admin.display(description="Response")
    def excerpt(self, obj: Comment) -> str:
        text = obj.content if obj.kind == Comment.Kind.COMMENT else f"{obj.title} — {obj.content}"
        return text[:80] + ("…" if len(text) > 80 else "")

    @admin.display(description="Texts its author replaced (first text first)")
    def earlier_texts(self, obj: Comment) -> str:
        edits = CommentEdit.objects.filter(comment=obj)
        return format_html_join("", "<p>{} ({}):</p><pre>{}</pre>",
                                ((e.edited_at, e.status, e.content) for e in edits)) or "—"  # fmt: skip

    def has_add_permission(self, request) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        obj.content_html = markup.render_comment(obj.content) if obj.kind == Comment.Kind.COMMENT else ""
        obj.dedupe_key = form.dedupe_key
        super().save_model(request, obj, form, change)
        if "status" in form.changed_data and obj.is_public:
            tasks.queue_announcement([obj.pk], notify.PUBLISHED)


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    """Commenters' reply notifications: seen and deleted here, made only by their own confirmed choice."""

    list_display = ["email", "scope", "post", "confirmed_at", "created_at"]
    list_filter = ["scope", ("confirmed_at", admin.EmptyFieldListFilter), ("post", PostFilter)]
    list_select_related = ["post"]
    search_fields = ["email"]
    readonly_fields = ["post", "comment", "email", "scope", "created_at", "confirmed_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
