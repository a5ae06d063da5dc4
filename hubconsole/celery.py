"""The Celery application: configured from Django settings (CELERY_*), tasks auto-discovered."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hubconsole.settings")

app = Celery("hubconsole")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
