"""Celery tasks of procure-to-pay: the scheduled reconciliation run."""

from celery import shared_task

from apps.p2p.reconciliation import reconciliation_run


@shared_task(name="p2p.reconcile", time_limit=600, soft_time_limit=540)
def reconcile() -> dict[str, int]:
    return reconciliation_run()
