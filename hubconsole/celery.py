"""The Celery application: configured from Django settings (CELERY_*), tasks auto-discovered."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hubconsole.settings")

app = Celery("hubconsole")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

_tokens: dict[str, object] = {}


@task_prerun.connect
def _stamp_task_id(task_id=None, **kwargs) -> None:
    """Every log line a task writes carries its task id, as request log lines carry theirs."""
    from apps.core.context import request_id_var

    _tokens[task_id] = request_id_var.set(f"task-{task_id}")


@task_postrun.connect
def _unstamp_task_id(task_id=None, **kwargs) -> None:
    from apps.core.context import request_id_var

    token = _tokens.pop(task_id, None)
    if token is not None:
        request_id_var.reset(token)
