"""Django registration of the EDI app (the codec itself in ``x12/`` does not need Django)."""

from django.apps import AppConfig


class EdiConfig(AppConfig):
    name = "apps.edi"
    label = "edi"
    verbose_name = "EDI"
