"""Procure-to-pay: purchase orders to AP vouchers, with three-way match."""

from django.apps import AppConfig


class P2PConfig(AppConfig):
    name = "apps.p2p"
    label = "p2p"
    verbose_name = "Procure-to-pay"

    def ready(self) -> None:
        # Registers the flow's processors and after-delivery steps with the pipeline.
        from apps.p2p import processors  # noqa: F401
