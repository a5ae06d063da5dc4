"""Trading partners in the admin, for integration engineers."""

from auditlog.mixins import AuditlogHistoryAdminMixin
from django.contrib import admin

from apps.edi.models import TradingPartner


@admin.register(TradingPartner)
class TradingPartnerAdmin(AuditlogHistoryAdminMixin, admin.ModelAdmin):
    list_display = ("name", "isa_qualifier", "isa_id", "acknowledgment", "outbound", "enabled")
    list_filter = ("enabled", "acknowledgment", "usage")
    search_fields = ("name", "isa_id")
    readonly_fields = ("last_interchange_control", "last_group_control")
    autocomplete_fields = ("outbound",)
