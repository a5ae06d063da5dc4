"""Transactions made from other transactions: outbound postings and split-out children.

Both are inserted with their work item in one statement, once per idempotency key. A key that
exists already is a duplicate when its content is the same, and a conflict when it is not: a
changed document must come with a new revision (or a batch with a new control number), never
be dropped and never be posted twice.
"""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from apps.core.errors import HubError
from apps.exceptions.catalogue import codes
from apps.pipeline.choices import DirectionChoices, TransactionStatusChoices, WorkStageChoices
from apps.pipeline.processors import Child, Delivery


@dataclass(frozen=True)
class Derived:
    """One transaction to derive from ``parent_id`` (a delivery or a child)."""

    parent_id: int
    correlation_id: str
    item: Delivery | Child

    @property
    def outbound(self) -> bool:
        return isinstance(self.item, Delivery)


@dataclass
class DerivedOutcome:
    """New transactions, same-content duplicates and conflicts, each with the parent that
    asked for it: ``new`` and ``duplicates`` hold (derived transaction id, parent id)."""

    new_outbound: list[tuple[int, int]] = field(default_factory=list)
    new_inbound: list[tuple[int, int]] = field(default_factory=list)
    duplicates: list[tuple[int, int]] = field(default_factory=list)
    conflicts: dict[int, HubError] = field(default_factory=dict)


# ON CONFLICT on the idempotency key is what makes "deliver once" and "process a resent batch
# once" hold across replays and resends.
_INSERT_SQL = """
    WITH d AS (
        SELECT * FROM unnest(
            %s::bigint[], %s::varchar[], %s::varchar[], %s::varchar[], %s::int[],
            %s::bytea[], %s::varchar[], %s::bigint[], %s::varchar[], %s::varchar[],
            %s::varchar[], %s::varchar[], %s::varchar[], %s::jsonb[]
        ) AS d(connector_id, idempotency_key, document_type, document_id, revision, body,
               sha, parent_id, correlation_id, direction, status, format, stage, metadata)
    ), tx AS (
        INSERT INTO pipeline_transaction (
            connector_id, direction, format, document_type, status, idempotency_key,
            content_sha256, raw, raw_size, correlation_id, document_id, revision, parent_id,
            attempts, last_error_code, last_error, metadata, received_at, updated_at
        )
        SELECT connector_id, direction, format, document_type, status, idempotency_key, sha,
               body, length(body), correlation_id, document_id, revision, parent_id, 0, '', '',
               metadata, now(), now()
        FROM d
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id, connector_id, idempotency_key
    ), work AS (
        INSERT INTO pipeline_workitem (
            transaction_id, stage, connector_id, available_at, lease_owner, open_claims,
            created_at
        )
        SELECT DISTINCT ON (tx.id) tx.id, d.stage, tx.connector_id, now(), '', 0, now()
        FROM tx JOIN d ON d.idempotency_key = tx.idempotency_key
    )
    SELECT id, idempotency_key FROM tx
    """


def _row(derived: Derived, connector_of_parent: dict[int, int]) -> tuple:
    item = derived.item
    if isinstance(item, Delivery):
        return (
            item.connector_id,
            item.idempotency_key,
            item.document_type,
            item.document_id,
            item.revision,
            item.body,
            DirectionChoices.OUTBOUND,
            TransactionStatusChoices.QUEUED,
            item.format,
            WorkStageChoices.DELIVER,
            "{}",
        )
    return (
        connector_of_parent[derived.parent_id],
        item.idempotency_key,
        item.document_type,
        item.document_id,
        1,
        item.body,
        DirectionChoices.INBOUND,
        TransactionStatusChoices.RECEIVED,
        item.format,
        WorkStageChoices.PROCESS,
        json.dumps(item.metadata),
    )


def derived_insert(
    cursor, derived: Sequence[Derived], *, connector_of_parent: dict[int, int]
) -> DerivedOutcome:
    """Insert the derived transactions and their work items, once per idempotency key.

    ``connector_of_parent`` gives each parent's connector: children belong to the connector
    their batch came through.
    """
    outcome = DerivedOutcome()
    if not derived:
        return outcome
    rows = [_row(d, connector_of_parent) for d in derived]
    shas = [
        hashlib.sha256(getattr(d.item, "fingerprint", b"") or row[5]).hexdigest()
        for d, row in zip(derived, rows, strict=True)
    ]
    cursor.execute(
        _INSERT_SQL,
        [
            [r[0] for r in rows],
            [r[1] for r in rows],
            [r[2] for r in rows],
            [r[3] for r in rows],
            [r[4] for r in rows],
            [r[5] for r in rows],
            shas,
            [d.parent_id for d in derived],
            [d.correlation_id for d in derived],
            [r[6] for r in rows],
            [r[7] for r in rows],
            [r[8] for r in rows],
            [r[9] for r in rows],
            [r[10] for r in rows],
        ],
    )
    inserted = {key: tx_id for tx_id, key in cursor.fetchall()}
    stored: dict[str, tuple[int, str]] = {}  # key -> (transaction id, content sha256)
    missing = list({row[1] for row in rows} - set(inserted))
    if missing:
        cursor.execute(
            "SELECT idempotency_key, id, content_sha256 FROM pipeline_transaction "
            "WHERE idempotency_key = ANY(%s)",
            [missing],
        )
        stored = {key: (tx_id, sha) for key, tx_id, sha in cursor.fetchall()}
    for item, row, sha in zip(derived, rows, shas, strict=True):
        key = row[1]
        if key in inserted and key not in stored:
            (outcome.new_outbound if item.outbound else outcome.new_inbound).append(
                (inserted[key], item.parent_id)
            )
            stored[key] = (inserted[key], sha)  # a repeat later in this batch compares to it
            continue
        existing_id, stored_sha = stored[key]
        if stored_sha == sha:
            outcome.duplicates.append((existing_id, item.parent_id))
        else:
            outcome.conflicts[item.parent_id] = _conflict(item, existing_id)
    return outcome


def _conflict(derived: Derived, existing_id: int) -> HubError:
    item = derived.item
    if isinstance(item, Delivery):
        message = (
            f"{item.document_type} {item.document_id} revision {item.revision} was already "
            f"sent to this target (transaction {existing_id}) with other content; a changed "
            "document needs a new revision."
        )
        root = f"document:{item.document_type}:{item.document_id}"
        details = {"outbound_transaction_id": existing_id}
    else:
        message = (
            f"{item.document_type} {item.document_id or ''} arrived before under the same "
            f"control numbers (transaction {existing_id}) with other content; a corrected "
            "batch needs new control numbers."
        )
        root = f"batch:{item.idempotency_key}"
        details = {"existing_transaction_id": existing_id}
    return HubError(
        codes.DUPLICATE_DIFFERENT_CONTENT, message, root_cause_key=root, details=details
    )
