"""Celery tasks of connectors: scheduled pickups."""

from celery import shared_task

from apps.connectors.pickup import connector_pickup, connectors_due_for_pickup


@shared_task(name="connectors.pickup_due", time_limit=60, soft_time_limit=50)
def pickup_due() -> list[int]:
    due = connectors_due_for_pickup()
    for connector_id in due:
        pickup.apply_async(kwargs={"connector_id": connector_id})
    return due


@shared_task(name="connectors.pickup", time_limit=600, soft_time_limit=540)
def pickup(*, connector_id: int) -> int | None:
    run = connector_pickup(connector_id=connector_id)
    return run.pk if run else None
