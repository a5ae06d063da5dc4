"""Celery tasks of SLA alerts: the periodic scan and the outbox sender (queue "alerts").

No arguments: both read their work from PostgreSQL, so a lost or repeated task costs a
minute of latency at most, never a missing or a second e-mail.
"""

from celery import shared_task

from apps.alerts.services import alerts_scan, alerts_send


@shared_task(name="alerts.scan", time_limit=120, soft_time_limit=100)
def scan() -> dict:
    return alerts_scan().as_dict()


# The hard limit stays far below services.SEND_LEASE, after which a row still "sending" is
# taken for the work of a dead worker.
@shared_task(name="alerts.send", time_limit=240, soft_time_limit=200)
def send() -> dict:
    return alerts_send().as_dict()
