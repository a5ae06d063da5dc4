"""Cross-cutting infrastructure: request ids, logging, coded errors, health endpoints."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Core"
