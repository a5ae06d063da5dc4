"""SLA policies on business calendars, the SLA scan and the exactly-once alert outbox."""

from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "apps.alerts"
    label = "alerts"
    verbose_name = "SLA and alerts"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from apps.alerts import models

        # Who changed a clock or an escalation address, and when, matters after a missed SLA.
        for model in (
            models.BusinessCalendar,
            models.WorkingHours,
            models.Holiday,
            models.SlaPolicy,
            models.TeamMembership,
        ):
            auditlog.register(model)
