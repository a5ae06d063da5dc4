"""Bulk replay jobs in the admin, read-only: they are changed by their services only."""

from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin
from apps.replays.models import ReplayJob, ReplayJobItem


@admin.register(ReplayJob)
class ReplayJobAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "kind",
        "status",
        "dry_run",
        "total",
        "replayed",
        "would_replay",
        "refused",
        "skipped",
        "rate_per_second",
        "created_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "kind", "dry_run"]
    search_fields = ["=id", "created_by__username"]
    readonly_fields = [f.name for f in ReplayJob._meta.fields]
    list_select_related = ["created_by"]


@admin.register(ReplayJobItem)
class ReplayJobItemAdmin(ReadOnlyAdmin):
    list_display = ["id", "job", "target_id", "transaction_id", "outcome", "code", "handled_at"]
    list_filter = ["outcome"]
    search_fields = ["=job__id", "=target_id", "=transaction_id"]
    readonly_fields = [f.name for f in ReplayJobItem._meta.fields]
    # 50,000 items per job: no count of the whole table on every page.
    show_full_result_count = False
    list_select_related = ["job"]
