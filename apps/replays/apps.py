"""Bulk replay as a tracked job: a filter's matches snapshotted, replayed at a throttle."""

from django.apps import AppConfig


class ReplaysConfig(AppConfig):
    name = "apps.replays"
    label = "replays"
    verbose_name = "Bulk replays"
