"""The exception catalogue and teams, editable by administrators; exceptions read-only."""

from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin
from apps.exceptions.models import BusinessException, ExceptionActivity, ExceptionCode, Team


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "email"]
    search_fields = ["name", "slug"]


@admin.register(ExceptionCode)
class ExceptionCodeAdmin(admin.ModelAdmin):
    list_display = ["code", "title", "category", "owning_team", "severity", "sla_minutes"]
    list_filter = ["category", "owning_team", "severity"]
    search_fields = ["code", "title", "meaning"]

    def has_delete_permission(self, request, obj=None):
        # Services and past exceptions refer to codes: edit a code, never delete it.
        return False


class ExceptionActivityInline(admin.TabularInline):
    model = ExceptionActivity
    extra = 0
    can_delete = False
    readonly_fields = ["kind", "actor", "message", "created_at"]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(BusinessException)
class BusinessExceptionAdmin(ReadOnlyAdmin):
    """Read-only here: people work exceptions in the console, where actions are services."""

    list_display = ["id", "code", "team", "status", "assignee", "opened_at", "due_at"]
    list_filter = ["status", "team", "code"]
    search_fields = ["summary", "root_cause_key", "correlation_id"]
    inlines = [ExceptionActivityInline]
    readonly_fields = [f.name for f in BusinessException._meta.fields]

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        # A target's own words in ``details`` may quote a payload.
        if not request.user.has_perm("accounts.view_payload"):
            return [field for field in fields if field != "details"]
        return fields
