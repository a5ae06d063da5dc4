"""Connectors: configured endpoints, inbound channels (webhook, file, SFTP), transports."""

from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "apps.connectors"
    label = "connectors"
    verbose_name = "Connectors"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from apps.connectors import models

        auditlog.register(models.Connector)
