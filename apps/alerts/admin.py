"""Administration of business calendars and SLA policies; the alert outbox, read-only."""

from django.contrib import admin, messages

from apps.alerts.models import (
    Alert,
    BusinessCalendar,
    ExceptionSla,
    Holiday,
    SlaPolicy,
    TeamMembership,
    WorkingHours,
)
from apps.alerts.services import RESEND_PERMISSION, alerts_resend
from apps.core.admin import ReadOnlyAdmin
from apps.core.errors import HubError


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    extra = 0


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 1


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "timezone", "always_open"]
    search_fields = ["name"]
    inlines = [WorkingHoursInline, HolidayInline]


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "scope",
        "calendar",
        "resolve_minutes",
        "at_risk_percent",
        "escalate_after_minutes",
        "escalation_email",
        "active",
    ]
    list_filter = ["active", "category", "team", "calendar"]
    search_fields = ["name", "code__code", "escalation_email"]
    autocomplete_fields = ["code"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    """The outbox, as the scan and the sender wrote it. Failed alerts can be sent again."""

    list_display = [
        "id",
        "kind",
        "exception",
        "team",
        "status",
        "attempts",
        "created_at",
        "sent_at",
        "digest",
    ]
    list_filter = ["status", "kind", "team"]
    search_fields = ["=id", "=exception__id", "recipients"]
    readonly_fields = [f.name for f in Alert._meta.fields]
    actions = ["resend_failed"]

    def has_resend_permission(self, request) -> bool:
        # Read-only everywhere else; the one thing to do with an alert is send it again.
        return request.user.has_perm(RESEND_PERMISSION)

    @admin.action(description="Resend failed alerts", permissions=["resend"])
    def resend_failed(self, request, queryset):
        try:
            count = alerts_resend(
                alert_ids=list(queryset.values_list("id", flat=True)), actor=request.user
            )
        except HubError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        self.message_user(request, f"{count} alert(s) put back in the outbox.", messages.SUCCESS)


@admin.register(ExceptionSla)
class ExceptionSlaAdmin(ReadOnlyAdmin):
    list_display = ["exception", "policy", "at_risk_at", "due_at", "escalate_at", "computed_at"]
    readonly_fields = [f.name for f in ExceptionSla._meta.fields]


@admin.register(TeamMembership)
class TeamMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team"]
    list_filter = ["team"]
    search_fields = ["user__username", "team__name"]
    autocomplete_fields = ["user"]
