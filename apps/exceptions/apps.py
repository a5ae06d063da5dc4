"""Business exceptions: the coded catalogue and the owned, SLA-clocked work items."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ExceptionsConfig(AppConfig):
    name = "apps.exceptions"
    label = "exceptions"
    verbose_name = "Business exceptions"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from apps.exceptions import models

        auditlog.register(models.Team)
        auditlog.register(models.ExceptionCode)
        auditlog.register(
            models.BusinessException,
            include_fields=["status", "assignee", "resolution", "resolved_at"],
        )
        # The catalogue is reference data the pipeline cannot run without; keep the seed in
        # step after every migrate (it only adds, never overwrites edits).
        post_migrate.connect(_sync_catalogue_after_migrate, sender=self)


def _sync_catalogue_after_migrate(sender, using, **kwargs) -> None:
    from apps.exceptions.services import exception_catalogue_sync

    exception_catalogue_sync()
