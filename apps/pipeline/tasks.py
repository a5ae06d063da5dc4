"""Celery tasks of the pipeline: doorbells that drain a stage, and the sweeper."""

from celery import shared_task
from django.conf import settings

from apps.pipeline.choices import WorkStageChoices
from apps.pipeline.services import work_drain, work_sweep
from apps.pipeline.services.work import work_queue_vacuum

# No arguments: a task only says "there is work"; what the work is, PostgreSQL knows. A lost
# task costs latency until the next sweep, never data, so none of these need acks_late.

# A drain starts batches for DRAIN_SECONDS; a delivery batch ends before half its lease plus
# one request (at most a quarter lease). The soft limit leaves room for that and the commit,
# so it never interrupts a batch whose outcome is being recorded.
_DRAIN_SOFT_LIMIT = int(
    settings.HUBCONSOLE["DRAIN_SECONDS"] + settings.HUBCONSOLE["LEASE_SECONDS"] * 0.75 + 60
)
_DRAIN_HARD_LIMIT = _DRAIN_SOFT_LIMIT + 30


@shared_task(
    name="pipeline.process_pending",
    time_limit=_DRAIN_HARD_LIMIT,
    soft_time_limit=_DRAIN_SOFT_LIMIT,
)
def process_pending() -> int:
    return work_drain(stage=WorkStageChoices.PROCESS)


@shared_task(
    name="pipeline.deliver_pending",
    time_limit=_DRAIN_HARD_LIMIT,
    soft_time_limit=_DRAIN_SOFT_LIMIT,
)
def deliver_pending() -> int:
    return work_drain(stage=WorkStageChoices.DELIVER)


@shared_task(name="pipeline.sweep", time_limit=30, soft_time_limit=25)
def sweep() -> dict[str, int]:
    return work_sweep()


@shared_task(name="pipeline.vacuum_queue", time_limit=60, soft_time_limit=50)
def vacuum_queue() -> None:
    work_queue_vacuum()
