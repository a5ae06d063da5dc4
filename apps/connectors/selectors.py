"""Connector queries for inbound endpoints and screens."""

import time

from apps.connectors.models import Connector

# Inbound endpoints look their connector up on every request; a few seconds of staleness
# (pausing, disabling) is fine, a query per message at a thousand messages a second is not.
_CACHE_SECONDS = 5.0
_cache: dict[str, tuple[float, Connector]] = {}


def connector_get_inbound(*, slug: str) -> Connector | None:
    now = time.monotonic()
    hit = _cache.get(slug)
    if hit is not None and now - hit[0] < _CACHE_SECONDS:
        return hit[1]
    connector = Connector.objects.filter(slug=slug).first()
    if connector is not None:  # misses are not cached: unknown slugs must not grow memory
        _cache[slug] = (now, connector)
    return connector


def connector_cache_clear() -> None:
    _cache.clear()


def connector_list():
    return Connector.objects.select_related("state", "forward_to").order_by("name")


def connector_figures(*, now) -> dict[int, dict]:
    """Per connector: messages in the last hour and day, the share that stopped with an
    exception (error rate), work waiting (queue depth) and its last pickup run. Three
    aggregate queries whatever the number of connectors; the day's window reads the
    transaction store's time index."""
    from datetime import timedelta

    from django.db.models import Count, Q

    from apps.connectors.models import ConnectorRun
    from apps.pipeline.choices import TransactionStatusChoices
    from apps.pipeline.models import Transaction, WorkItem

    figures: dict[int, dict] = {}
    day = (
        Transaction.objects.filter(received_at__gte=now - timedelta(days=1))
        .values("connector_id")
        .annotate(
            day=Count("id"),
            hour=Count("id", filter=Q(received_at__gte=now - timedelta(hours=1))),
            failed=Count("id", filter=Q(status=TransactionStatusChoices.EXCEPTION)),
        )
    )
    for row in day:
        figures.setdefault(row["connector_id"], {}).update(
            day=row["day"],
            hour=row["hour"],
            failed=row["failed"],
            error_rate=round(100 * row["failed"] / row["day"], 1) if row["day"] else 0.0,
        )
    for row in WorkItem.objects.values("connector_id").annotate(queued=Count("id")):
        figures.setdefault(row["connector_id"], {})["queued"] = row["queued"]
    runs = ConnectorRun.objects.order_by("connector_id", "-started_at").distinct("connector_id")
    for run in runs:
        figures.setdefault(run.connector_id, {})["last_run"] = run
    return figures
