"""Doorbells: tell workers that a stage has work. The work itself waits in PostgreSQL.

A Redis key per stage debounces the bell: ringing sends a task only if no task was sent since a
worker last answered. A worker answers (deletes the key) *before* it starts claiming, so a
message committed after that moment either is claimed by that worker or rings a new task;
nothing is stranded. If Redis or the task is lost, the sweeper rings again.
"""

import logging

from celery import current_app

from apps.core.redis import redis_client
from apps.pipeline.choices import WorkStageChoices

logger = logging.getLogger(__name__)

STAGE_TASKS = {
    WorkStageChoices.PROCESS: "pipeline.process_pending",
    WorkStageChoices.DELIVER: "pipeline.deliver_pending",
}
# A bell left pressed by a task that vanished (worker killed before answering) expires.
_BELL_TTL_SECONDS = 15


def _key(stage: str) -> str:
    return f"hubconsole:doorbell:{stage}"


def ring(stage: str, *, force: bool = False) -> bool:
    """Ask for a worker on ``stage``. Returns whether a task was sent. Never raises."""
    try:
        if not force and not redis_client().set(_key(stage), 1, nx=True, ex=_BELL_TTL_SECONDS):
            return False
        if force:
            redis_client().set(_key(stage), 1, ex=_BELL_TTL_SECONDS)
        current_app.send_task(STAGE_TASKS[stage], retry=False)
        return True
    except Exception as error:
        # Losing the broker costs latency, never data: the sweeper re-rings from the database.
        logger.warning("doorbell for %s not rung (%s); the sweeper will re-drive", stage, error)
        return False


def answer(stage: str) -> None:
    try:
        redis_client().delete(_key(stage))
    except Exception as error:
        logger.warning("doorbell for %s not answered (%s)", stage, error)
