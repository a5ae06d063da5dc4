"""Connector administration for integration engineers."""

from django import forms
from django.contrib import admin

from apps.connectors.models import Connector, ConnectorRun
from apps.connectors.validation import connector_settings_problems

_IDENTITY = ["name", "slug", "kind", "format", "document_type", "enabled"]
_CONFIGURATION = ["settings", "forward_to"]
_POLICY = [
    "rate_limit_per_second",
    "rate_limit_burst",
    "timeout_seconds",
    "concurrency",
    "max_attempts",
    "backoff_base_seconds",
    "backoff_cap_seconds",
    "breaker_threshold",
    "breaker_cooldown_seconds",
    "poll_interval_seconds",
]


class ConnectorForm(forms.ModelForm):
    class Meta:
        model = Connector
        fields = [*_IDENTITY, *_CONFIGURATION, *_POLICY]

    def clean(self):
        data = super().clean()
        problems = connector_settings_problems(
            kind=data.get("kind", ""), settings=data.get("settings") or {}
        )
        if problems:
            raise forms.ValidationError({"settings": problems})
        return data


@admin.register(Connector)
class ConnectorAdmin(admin.ModelAdmin):
    form = ConnectorForm
    list_display = ["name", "slug", "kind", "format", "enabled", "paused", "forward_to"]
    list_filter = ["kind", "format", "enabled", "paused"]
    search_fields = ["name", "slug"]
    autocomplete_fields = ["forward_to"]
    # Pausing and resuming go through the console (a service that also wakes the workers).
    readonly_fields = ["paused"]
    fieldsets = [
        (None, {"fields": [*_IDENTITY, "paused"]}),
        ("Configuration", {"fields": _CONFIGURATION}),
        ("Delivery policy", {"fields": _POLICY}),
    ]


@admin.register(ConnectorRun)
class ConnectorRunAdmin(admin.ModelAdmin):
    list_display = [
        "connector",
        "kind",
        "status",
        "started_at",
        "seen",
        "accepted",
        "duplicates",
        "rejected",
    ]
    list_filter = ["status", "kind", "connector"]
    readonly_fields = [f.name for f in ConnectorRun._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
