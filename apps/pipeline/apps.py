"""The durable pipeline: the transaction store, claimed work, processing, delivery, replay."""

from django.apps import AppConfig


class PipelineConfig(AppConfig):
    name = "apps.pipeline"
    label = "pipeline"
    verbose_name = "Transactions"
