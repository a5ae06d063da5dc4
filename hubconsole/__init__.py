"""HubConsole project package: settings, URLs, the Celery app and process entry points."""

from hubconsole.celery import app as celery_app

__all__ = ("celery_app",)
