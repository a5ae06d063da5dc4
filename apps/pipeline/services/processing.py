"""The process stage: parse and map received messages, index their keys, queue deliveries."""

import hashlib
import json
import logging
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import connection, transaction

from apps.connectors.models import Connector
from apps.core.errors import HubError
from apps.exceptions.catalogue import codes
from apps.pipeline import doorbell
from apps.pipeline.choices import (
    DirectionChoices,
    TransactionEventKindChoices,
    TransactionStatusChoices,
    WorkStageChoices,
)
from apps.pipeline.processors import InboundView, Processed, processor_for
from apps.pipeline.services.outcomes import (
    Failure,
    RetryPolicy,
    failures_record,
    poison_failures,
    successes_resolve,
)
from apps.pipeline.services.work import (
    Claim,
    EventRow,
    claimed_transactions,
    events_insert,
    reclaim_events,
    work_finish,
    work_lock_owned,
)

logger = logging.getLogger(__name__)


def process_claims(claims: Sequence[Claim]) -> int:
    """Process a claimed batch; returns how many transactions it finished or rescheduled."""
    if not claims:
        return 0
    rows = claimed_transactions(
        claims, "connector_id", "format", "document_type", "raw", "correlation_id", "attempts"
    )
    connectors = Connector.objects.in_bulk({row["connector_id"] for row in rows.values()})
    poisoned = poison_failures(
        claims, correlation_ids={i: r["correlation_id"] for i, r in rows.items()}
    )
    poisoned_ids = {f.claim.transaction_id for f in poisoned}

    def failure(claim: Claim, error: HubError) -> Failure:
        row = rows[claim.transaction_id]
        policy = RetryPolicy.for_connector(connectors[row["connector_id"]])
        return Failure(claim, error, row["attempts"] + 1, policy, row["correlation_id"])

    done: list[tuple[Claim, Processed]] = []
    failures: list[Failure] = list(poisoned)
    for claim in claims:
        if claim.transaction_id in poisoned_ids:
            continue
        row = rows[claim.transaction_id]
        connector = connectors[row["connector_id"]]
        view = InboundView(
            transaction_id=row["id"],
            connector_id=connector.pk,
            connector_settings=connector.settings,
            forward_to_id=connector.forward_to_id,
            format=row["format"],
            document_type=row["document_type"],
            raw=bytes(row["raw"]),
            correlation_id=row["correlation_id"],
        )
        try:
            done.append((claim, processor_for(view.document_type)(view)))
        except HubError as error:
            failures.append(failure(claim, error))
        except Exception as error:
            # A defect or a passing fault, not the message's fault: retry with backoff, then
            # let a person look. Only the type and the stack are logged: an exception's
            # message may quote the payload.
            logger.error(
                "processing transaction %s failed unexpectedly with %s\n%s",
                claim.transaction_id,
                type(error).__name__,
                "".join(traceback.format_tb(error.__traceback__)),
            )
            failures.append(
                failure(claim, HubError("PROCESSING_ERROR", type(error).__name__, transient=True))
            )

    with transaction.atomic(), connection.cursor() as cursor:
        events_insert(cursor, reclaim_events(claims))
        owned = work_lock_owned(cursor, [claim for claim, _ in done])
        done = [(claim, result) for claim, result in done if claim.transaction_id in owned]
        queue = _queue_deliveries(cursor, done, rows)
        for claim, _ in done:
            if claim.transaction_id in queue.conflicts:
                failures.append(failure(claim, queue.conflicts[claim.transaction_id]))
        done = [(claim, r) for claim, r in done if claim.transaction_id not in queue.conflicts]
        work_finish(cursor, [claim for claim, _ in done])
        _record_processed(cursor, done, queue)
        failures_record(cursor, failures)
        successes_resolve([claim for claim, _ in done], owned)
        if queue.new:
            transaction.on_commit(lambda: doorbell.ring(WorkStageChoices.DELIVER))
    return len(done) + len(failures)


def _record_processed(cursor, done: list[tuple[Claim, Processed]], queue: "Queued") -> None:
    """Write the outcome of successful processing."""
    if not done:
        return
    cursor.execute(
        """
        UPDATE pipeline_transaction t
        SET status = %s, canonical = u.canonical, document_id = u.document_id,
            revision = u.revision, attempts = t.attempts + 1, last_error_code = '',
            last_error = '', completed_at = now(), updated_at = now()
        FROM unnest(%s::bigint[], %s::jsonb[], %s::varchar[], %s::int[])
             AS u(id, canonical, document_id, revision)
        WHERE t.id = u.id
        """,
        [
            TransactionStatusChoices.COMPLETED,
            [claim.transaction_id for claim, _ in done],
            [json.dumps(result.canonical) for _, result in done],
            [result.document_id for _, result in done],
            [result.revision for _, result in done],
        ],
    )
    keys = [(claim.transaction_id, kind, value) for claim, r in done for kind, value in r.keys]
    if keys:
        cursor.execute(
            "INSERT INTO pipeline_transactionkey (transaction_id, kind, value) "
            "SELECT * FROM unnest(%s::bigint[], %s::varchar[], %s::varchar[])",
            [[k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]],
        )
    events = [
        EventRow(
            claim.transaction_id,
            TransactionEventKindChoices.PROCESSED,
            message=f"Processed as {result.canonical.get('document_type', '')}; "
            f"{len(result.deliveries)} delivery(ies).",
            detail={"document_id": result.document_id, "revision": result.revision},
            actor_id=claim.actor_id,
        )
        for claim, result in done
    ]
    events += [
        EventRow(
            outbound_id,
            TransactionEventKindChoices.ROUTED,
            message="Queued for delivery.",
            detail={"from_transaction_id": claim.transaction_id},
        )
        for outbound_id, claim in queue.new
    ]
    events += [
        EventRow(
            outbound_id,
            TransactionEventKindChoices.DUPLICATE_SUPPRESSED,
            code=codes.DUPLICATE_MESSAGE,
            message="This document revision was already queued for this target with the same "
            "content; it is not posted twice.",
            detail={"from_transaction_id": claim.transaction_id},
        )
        for outbound_id, claim in queue.duplicates
    ]
    events_insert(cursor, events)


@dataclass
class Queued:
    """What queueing deliveries did: new postings, same-content duplicates, and conflicts
    (same target, document and revision with other content), keyed by inbound id."""

    new: list[tuple[int, Claim]] = field(default_factory=list)
    duplicates: list[tuple[int, Claim]] = field(default_factory=list)
    conflicts: dict[int, HubError] = field(default_factory=dict)


# Outbound postings and their work items in one statement. ON CONFLICT on the idempotency key
# (target, document, revision) is what makes "deliver once" hold across replays and resends.
_QUEUE_DELIVERIES_SQL = f"""
    WITH d AS (
        SELECT * FROM unnest(
            %s::bigint[], %s::varchar[], %s::varchar[], %s::varchar[], %s::int[],
            %s::bytea[], %s::varchar[], %s::bigint[], %s::varchar[]
        ) AS d(connector_id, idempotency_key, document_type, document_id, revision, body,
               sha, parent_id, correlation_id)
    ), tx AS (
        INSERT INTO pipeline_transaction (
            connector_id, direction, format, document_type, status, idempotency_key,
            content_sha256, raw, raw_size, correlation_id, document_id, revision, parent_id,
            attempts, last_error_code, last_error, metadata, received_at, updated_at
        )
        SELECT connector_id, '{DirectionChoices.OUTBOUND}', 'json', document_type,
               '{TransactionStatusChoices.QUEUED}', idempotency_key, sha, body,
               length(body), correlation_id, document_id, revision, parent_id, 0, '', '',
               '{{}}'::jsonb, now(), now()
        FROM d
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id, connector_id, idempotency_key
    ), work AS (
        INSERT INTO pipeline_workitem (
            transaction_id, stage, connector_id, available_at, lease_owner, open_claims,
            created_at
        )
        SELECT id, '{WorkStageChoices.DELIVER}', connector_id, now(), '', 0, now() FROM tx
    )
    SELECT id, idempotency_key FROM tx
    """  # noqa: S608 (only code constants are interpolated)


def _queue_deliveries(cursor, done: list[tuple[Claim, Processed]], rows: dict[int, dict]) -> Queued:
    """Insert outbound transactions and their work items, once per idempotency key.

    A key that exists already is a duplicate when its content is the same, and a conflict
    when it is not: a changed document must come with a new revision, never be dropped.
    """
    deliveries = [(claim, d) for claim, result in done for d in result.deliveries]
    queued = Queued()
    if not deliveries:
        return queued
    shas = [hashlib.sha256(d.body).hexdigest() for _, d in deliveries]
    cursor.execute(
        _QUEUE_DELIVERIES_SQL,
        [
            [d.connector_id for _, d in deliveries],
            [d.idempotency_key for _, d in deliveries],
            [d.document_type for _, d in deliveries],
            [d.document_id for _, d in deliveries],
            [d.revision for _, d in deliveries],
            [d.body for _, d in deliveries],
            shas,
            [claim.transaction_id for claim, _ in deliveries],
            [rows[claim.transaction_id]["correlation_id"] for claim, _ in deliveries],
        ],
    )
    inserted = {key: tx_id for tx_id, key in cursor.fetchall()}
    stored: dict[str, tuple[int, str]] = {}  # key -> (outbound id, content sha256)
    missing = list({d.idempotency_key for _, d in deliveries} - set(inserted))
    if missing:
        cursor.execute(
            "SELECT idempotency_key, id, content_sha256 FROM pipeline_transaction "
            "WHERE idempotency_key = ANY(%s)",
            [missing],
        )
        stored = {key: (tx_id, sha) for key, tx_id, sha in cursor.fetchall()}
    for (claim, delivery), sha in zip(deliveries, shas, strict=True):
        key = delivery.idempotency_key
        if key in inserted and key not in stored:
            queued.new.append((inserted[key], claim))
            stored[key] = (inserted[key], sha)  # a repeat later in this batch compares to it
            continue
        outbound_id, stored_sha = stored[key]
        if stored_sha == sha:
            queued.duplicates.append((outbound_id, claim))
        else:
            queued.conflicts[claim.transaction_id] = HubError(
                codes.DUPLICATE_DIFFERENT_CONTENT,
                f"{delivery.document_type} {delivery.document_id} revision {delivery.revision} "
                f"was already sent to this target (transaction {outbound_id}) with other "
                "content; a changed document needs a new revision.",
                root_cause_key=f"document:{delivery.document_type}:{delivery.document_id}",
                details={"outbound_transaction_id": outbound_id},
            )
    return queued
