"""The operations console: server-rendered HTMX screens over the other apps' selectors."""

from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "apps.console"
    label = "console"
    verbose_name = "Console"
