"""Django registration of the EDI app (the codec itself in ``x12/`` does not need Django)."""

from django.apps import AppConfig


class EdiConfig(AppConfig):
    name = "apps.edi"
    label = "edi"
    verbose_name = "EDI"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        # Registers the interchange processor with the pipeline.
        from apps.edi import models, processors  # noqa: F401

        auditlog.register(
            models.TradingPartner, exclude_fields=["last_interchange_control", "last_group_control"]
        )
