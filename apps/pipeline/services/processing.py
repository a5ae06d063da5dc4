"""The process stage: parse and map received messages, index their keys, queue deliveries."""

import json
import logging
import traceback
from collections.abc import Sequence

from django.db import connection, transaction

from apps.connectors.models import Connector
from apps.core.errors import HubError
from apps.exceptions.catalogue import codes
from apps.pipeline import doorbell
from apps.pipeline.choices import (
    TransactionEventKindChoices,
    TransactionStatusChoices,
    WorkStageChoices,
)
from apps.pipeline.processors import Applied, InboundView, Processed, processor_for
from apps.pipeline.services.derived import Derived, derived_insert
from apps.pipeline.services.outcomes import (
    Failure,
    RetryPolicy,
    failures_record,
    poison_failures,
    successes_resolve,
)
from apps.pipeline.services.wake import transactions_wake
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
            connector_slug=connector.slug,
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
        applied: dict[int, Applied] = {}
        kept: list[tuple[Claim, Processed]] = []
        for claim, result in done:
            outcome = _apply(claim, result)
            if isinstance(outcome, HubError):
                failures.append(failure(claim, outcome))
                continue
            applied[claim.transaction_id] = outcome
            kept.append((claim, result))
        done = kept
        derived = [
            Derived(claim.transaction_id, rows[claim.transaction_id]["correlation_id"], item)
            for claim, result in done
            for item in [
                *result.children,
                *result.deliveries,
                *applied.get(claim.transaction_id, NOTHING).deliveries,
            ]
        ]
        outcome = derived_insert(
            cursor,
            derived,
            connector_of_parent={i: row["connector_id"] for i, row in rows.items()},
        )
        for claim, _ in done:
            if claim.transaction_id in outcome.conflicts:
                failures.append(failure(claim, outcome.conflicts[claim.transaction_id]))
        done = [(c, r) for c, r in done if c.transaction_id not in outcome.conflicts]
        for claim, _ in done:
            error = applied.get(claim.transaction_id, NOTHING).error
            if error is not None:
                failures.append(failure(claim, error))
        succeeded = [
            (c, r) for c, r in done if applied.get(c.transaction_id, NOTHING).error is None
        ]
        work_finish(cursor, [claim for claim, _ in succeeded])
        _record_processed(cursor, done, applied, outcome)
        failures_record(cursor, failures)
        successes_resolve([claim for claim, _ in succeeded], owned)
        woken = [i for a in applied.values() for i in a.wake]
        if woken:
            transactions_wake(cursor, woken, reason="What it was waiting for has arrived.")
        if outcome.new_outbound:
            transaction.on_commit(lambda: doorbell.ring(WorkStageChoices.DELIVER))
        if outcome.new_inbound or woken:
            transaction.on_commit(lambda: doorbell.ring(WorkStageChoices.PROCESS))
    return len(done) + len(failures)


NOTHING = Applied()


def _apply(claim: Claim, result: Processed) -> Applied | HubError:
    """Run the flow's business step in a savepoint: on error its writes are undone alone."""
    if result.apply is None:
        return NOTHING
    try:
        with transaction.atomic():
            return result.apply()
    except HubError as error:
        return error
    except Exception as error:
        logger.error(
            "the business step of transaction %s failed unexpectedly with %s\n%s",
            claim.transaction_id,
            type(error).__name__,
            "".join(traceback.format_tb(error.__traceback__)),
        )
        return HubError("PROCESSING_ERROR", type(error).__name__, transient=True)


def _record_processed(
    cursor, done: list[tuple[Claim, Processed]], applied: dict[int, Applied], outcome
) -> None:
    """Write the outcome of successful processing (a business error still keeps the parse:
    canonical document and keys are stored, the status comes from failures_record)."""
    if not done:
        return
    statuses = []
    for claim, _ in done:
        step = applied.get(claim.transaction_id, NOTHING)
        if step.error is not None:
            statuses.append(None)  # failures_record sets it
        elif step.waiting:
            statuses.append(TransactionStatusChoices.WAITING)
        else:
            statuses.append(TransactionStatusChoices.COMPLETED)
    cursor.execute(
        """
        UPDATE pipeline_transaction t
        SET status = coalesce(u.status, t.status), canonical = u.canonical,
            document_id = u.document_id, revision = u.revision,
            attempts = t.attempts + CASE WHEN u.status IS NULL THEN 0 ELSE 1 END,
            last_error_code = CASE WHEN u.status IS NULL THEN t.last_error_code ELSE '' END,
            last_error = CASE WHEN u.status IS NULL THEN t.last_error ELSE '' END,
            completed_at = CASE WHEN u.status = %s THEN now() END, updated_at = now()
        FROM unnest(%s::bigint[], %s::jsonb[], %s::varchar[], %s::int[], %s::varchar[])
             AS u(id, canonical, document_id, revision, status)
        WHERE t.id = u.id
        """,
        [
            TransactionStatusChoices.COMPLETED,
            [claim.transaction_id for claim, _ in done],
            [json.dumps(result.canonical) for _, result in done],
            [result.document_id for _, result in done],
            [result.revision for _, result in done],
            statuses,
        ],
    )
    keys = [
        (claim.transaction_id, kind, value[:200])
        for claim, r in done
        for kind, value in [*r.keys, *applied.get(claim.transaction_id, NOTHING).keys]
    ]
    if keys:
        # A replay processes the message again: its keys are written afresh, not twice.
        cursor.execute(
            "DELETE FROM pipeline_transactionkey WHERE transaction_id = ANY(%s)",
            [[claim.transaction_id for claim, _ in done]],
        )
        cursor.execute(
            "INSERT INTO pipeline_transactionkey (transaction_id, kind, value) "
            "SELECT * FROM unnest(%s::bigint[], %s::varchar[], %s::varchar[])",
            [[k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]],
        )
    events = []
    for claim, result in done:
        step = applied.get(claim.transaction_id, NOTHING)
        derived = len(result.deliveries) + len(step.deliveries)
        message = step.message or (
            f"Processed as {result.canonical.get('document_type', '')}; "
            f"{derived} delivery(ies)"
            + (f", {len(result.children)} document(s) split out" if result.children else "")
            + "."
        )
        events.append(
            EventRow(
                claim.transaction_id,
                TransactionEventKindChoices.PROCESSED,
                message=message,
                detail={"document_id": result.document_id, "revision": result.revision},
                actor_id=claim.actor_id,
            )
        )
        if step.waiting and step.error is None:
            events.append(
                EventRow(
                    claim.transaction_id,
                    TransactionEventKindChoices.WAITING,
                    message=step.waiting,
                    actor_id=claim.actor_id,
                )
            )
    events += [
        EventRow(
            derived_id,
            TransactionEventKindChoices.ROUTED,
            message="Queued for delivery.",
            detail={"from_transaction_id": parent_id},
        )
        for derived_id, parent_id in outcome.new_outbound
    ]
    events += [
        EventRow(
            derived_id,
            TransactionEventKindChoices.RECEIVED,
            message="Split out of its batch.",
            detail={"batch_transaction_id": parent_id},
        )
        for derived_id, parent_id in outcome.new_inbound
    ]
    events += [
        EventRow(
            derived_id,
            TransactionEventKindChoices.DUPLICATE_SUPPRESSED,
            code=codes.DUPLICATE_MESSAGE,
            message="The same document with the same content came before; it is not "
            "processed or posted twice.",
            detail={"from_transaction_id": parent_id},
        )
        for derived_id, parent_id in outcome.duplicates
    ]
    events_insert(cursor, events)
