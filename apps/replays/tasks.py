"""Celery tasks of bulk replay (queue "maintenance"): the runner of one job, and the redrive.

Ids only: the job, its filter and its items are in PostgreSQL. A runner works for at most
SLICE_SECONDS and then queues itself again for the rest, so a job of 50,000 items at 20 a
second (about 42 minutes) is many short tasks: none comes near its time limit, and the other
maintenance tasks (sweeper, pickup scheduler) wait one slice at most.
"""

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from apps.replays.services import replay_job_run, replay_jobs_redrive

SLICE_SECONDS = int(settings.HUBCONSOLE.get("REPLAY_SLICE_SECONDS", 10))


# acks_late: the runner is idempotent by construction (an item commits with its outcome), so
# a task lost with its worker may safely be delivered again.
@shared_task(
    name="replays.run",
    acks_late=True,
    soft_time_limit=SLICE_SECONDS + 50,
    time_limit=SLICE_SECONDS + 70,
)
def run(*, job_id: int) -> bool:
    try:
        finished = replay_job_run(job_id=job_id, budget_seconds=SLICE_SECONDS)
    except SoftTimeLimitExceeded:
        finished = False  # a batch stalled; it rolled back and is taken again
    if not finished:
        run.apply_async(kwargs={"job_id": job_id})
    return finished


@shared_task(name="replays.redrive", time_limit=60, soft_time_limit=50)
def redrive() -> int:
    return replay_jobs_redrive()
