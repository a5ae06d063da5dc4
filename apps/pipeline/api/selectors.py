"""Pipeline queries that only the status API asks (lineage by correlation id)."""

from django.db.models import QuerySet

from apps.pipeline.models import TransactionEvent
from apps.pipeline.selectors import LIST_FIELDS, transaction_list

LINEAGE_LIMIT = 500


def lineage_transactions(*, correlation_id: str, limit: int = LINEAGE_LIMIT) -> list:
    """Every transaction of one flow, oldest first (the correlation id index serves it)."""
    return list(
        transaction_list()
        .filter(correlation_id=correlation_id)
        .only(*LIST_FIELDS, "parent_id")
        .order_by("received_at", "id")[:limit]
    )


def lineage_events(*, transaction_ids: list[int]) -> QuerySet[TransactionEvent]:
    """The events of those transactions in time order (txevent_tx_idx serves each one)."""
    return (
        TransactionEvent.objects.filter(transaction_id__in=transaction_ids)
        .select_related("actor")
        .order_by("at", "id")
    )
