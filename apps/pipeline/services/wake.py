"""Waking parked or failed transactions when what they waited for has arrived."""

from collections.abc import Sequence

from apps.pipeline.choices import (
    TransactionEventKindChoices,
    TransactionStatusChoices,
    WorkStageChoices,
)
from apps.pipeline.services.work import EventRow, events_insert

# Only inbound transactions that are parked or stopped are woken: one that is being processed
# or already done is left alone, so waking twice runs it at most once more.
_WAKE_SQL = """
WITH woken AS (
    UPDATE pipeline_transaction t
    SET status = %(received)s, attempts = 0, updated_at = now()
    WHERE t.id = ANY(%(ids)s) AND t.direction = 'in' AND t.status = ANY(%(wakeable)s)
    RETURNING t.id, t.connector_id
), work AS (
    INSERT INTO pipeline_workitem (transaction_id, stage, connector_id, available_at,
                                   lease_owner, open_claims, created_at)
    SELECT id, %(stage)s, connector_id, now(), '', 0, now() FROM woken
    ON CONFLICT (transaction_id) DO NOTHING
)
SELECT id FROM woken
"""


def transactions_wake(cursor, transaction_ids: Sequence[int], *, reason: str) -> list[int]:
    """Queue parked (waiting) or stopped inbound transactions to be processed again, inside
    the caller's commit; returns the ids woken. The caller rings the process doorbell."""
    if not transaction_ids:
        return []
    cursor.execute(
        _WAKE_SQL,
        {
            "ids": list(set(transaction_ids)),
            "received": TransactionStatusChoices.RECEIVED,
            "wakeable": [TransactionStatusChoices.WAITING, TransactionStatusChoices.EXCEPTION],
            "stage": WorkStageChoices.PROCESS,
        },
    )
    woken = [row[0] for row in cursor.fetchall()]
    events_insert(
        cursor, [EventRow(i, TransactionEventKindChoices.WOKEN, message=reason) for i in woken]
    )
    return woken
