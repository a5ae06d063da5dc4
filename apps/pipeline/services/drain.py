"""Draining a stage: claim batch after batch until the queue is empty or time is up."""

import logging
import time

from django.conf import settings

from apps.pipeline import doorbell
from apps.pipeline.choices import WorkStageChoices
from apps.pipeline.services.delivery import deliver_claims
from apps.pipeline.services.processing import process_claims
from apps.pipeline.services.work import work_claim

logger = logging.getLogger(__name__)

RUNNERS = {
    WorkStageChoices.PROCESS: process_claims,
    WorkStageChoices.DELIVER: deliver_claims,
}


def work_drain(*, stage: str) -> int:
    """Work ``stage`` until nothing is claimable; returns how many items were handled.

    Items left by a worker that died are taken one at a time, before each normal batch.
    After DRAIN_SECONDS the task rings for a successor and ends, so no task outlives its
    time limit and other queues' tasks get their turn.
    """
    runner = RUNNERS[stage]
    doorbell.answer(stage)
    config = settings.HUBCONSOLE
    deadline = time.monotonic() + config["DRAIN_SECONDS"]
    handled = 0
    next_suspect_check = 0.0
    while time.monotonic() < deadline:
        # Suspects appear only when a lease expires, so looking for them once a second is
        # enough; skipping the query on every other loop keeps small batches cheap.
        suspects = []
        if time.monotonic() >= next_suspect_check:
            suspects = work_claim(stage=stage, limit=1, suspects=True)
            next_suspect_check = time.monotonic() + (0 if suspects else 1.0)
            if suspects:
                handled += runner(suspects)
        batch = work_claim(stage=stage, limit=config["CLAIM_BATCH"])
        if batch:
            handled += runner(batch)
        if not suspects and not batch:
            return handled
        if len(batch) < config["CLAIM_BATCH"] // 4:
            time.sleep(config["BATCH_LINGER_MS"] / 1000)
    doorbell.ring(stage)
    return handled
