"""The deliver stage: send queued postings to their targets, exactly once in effect.

Sends happen outside any database transaction. Each request carries the transaction's
idempotency key, which never changes across retries and replays, so a target that committed a
posting but whose answer was lost sees the retry as a replay, not a second posting.
"""

import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connection, transaction

from apps.connectors.models import Connector
from apps.connectors.services import connector_breaker_record, connector_gate
from apps.connectors.transports import OutboundRequest, TransportError, transport_for
from apps.exceptions.catalogue import codes
from apps.exceptions.services import ExceptionSpec, exceptions_open
from apps.pipeline import doorbell
from apps.pipeline.choices import (
    TransactionEventKindChoices,
    TransactionStatusChoices,
    WorkStageChoices,
)
from apps.pipeline.processors import CONTENT_TYPES, DeliveredView, after_delivery_for
from apps.pipeline.services.derived import Derived, derived_insert
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
    work_release,
)

logger = logging.getLogger(__name__)

# Sender threads shared by every batch of this process. Threads only wait on sockets; they
# never touch the database, so Django's per-thread connections are not involved.
_SENDERS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="deliver")


def deliver_claims(claims: Sequence[Claim]) -> int:
    """Deliver a claimed batch; returns how many outcomes were recorded."""
    if not claims:
        return 0
    rows = claimed_transactions(
        claims,
        "connector_id",
        "raw",
        "idempotency_key",
        "correlation_id",
        "document_type",
        "attempts",
        "format",
        "document_id",
        "revision",
    )
    poisoned = poison_failures(
        claims, correlation_ids={i: r["correlation_id"] for i, r in rows.items()}
    )
    poisoned_ids = {f.claim.transaction_id for f in poisoned}
    groups: dict[int, list[Claim]] = defaultdict(list)
    for claim in claims:
        if claim.transaction_id not in poisoned_ids:
            groups[claim.connector_id].append(claim)
    connectors = Connector.objects.in_bulk(list(groups))

    # Stop sending well before the lease runs out, so no other worker takes these items over
    # while this one is still working on them.
    deadline = time.monotonic() + settings.HUBCONSOLE["LEASE_SECONDS"] / 2
    delivered: list[tuple[Claim, dict]] = []
    failures: list[Failure] = list(poisoned)
    for connector_id, group in groups.items():
        sent, failed = _deliver_group(connectors[connector_id], group, rows, deadline)
        delivered += sent
        failures += failed

    with transaction.atomic(), connection.cursor() as cursor:
        events_insert(cursor, reclaim_events(claims))
        owned = work_finish(cursor, [claim for claim, _ in delivered])
        delivered = [(c, d) for c, d in delivered if c.transaction_id in owned]
        _record_delivered(cursor, delivered)
        _after_delivery(cursor, delivered, rows)
        failures_record(cursor, failures)
        successes_resolve([claim for claim, _ in delivered], owned)
    return len(delivered) + len(failures)


def _after_delivery(cursor, delivered: list[tuple[Claim, dict]], rows: dict[int, dict]) -> None:
    """Run the flows' after-delivery steps and queue what they send next, in this commit."""
    by_type: dict[str, list[DeliveredView]] = defaultdict(list)
    for claim, detail in delivered:
        row = rows[claim.transaction_id]
        by_type[row["document_type"]].append(
            DeliveredView(
                transaction_id=claim.transaction_id,
                connector_id=row["connector_id"],
                document_type=row["document_type"],
                document_id=row["document_id"],
                revision=row["revision"],
                reference=detail["reference"],
                correlation_id=row["correlation_id"],
            )
        )
    derived = []
    for document_type, views in by_type.items():
        handler = after_delivery_for(document_type)
        if handler is None:
            continue
        by_id = {view.transaction_id: view for view in views}
        for parent_id, delivery in handler(views):
            derived.append(Derived(parent_id, by_id[parent_id].correlation_id, delivery))
    if not derived:
        return
    outcome = derived_insert(cursor, derived, connector_of_parent={})
    events_insert(
        cursor,
        [
            EventRow(
                derived_id,
                TransactionEventKindChoices.ROUTED,
                message="Queued for delivery.",
                detail={"from_transaction_id": parent_id},
            )
            for derived_id, parent_id in outcome.new_outbound
        ],
    )
    for parent_id, error in outcome.conflicts.items():
        # The posting itself went through; what it should have caused is refused. The
        # posting's record says so, and the conflict is left to a person (it is in the log
        # of the posting and raised as an exception on it).
        exceptions_open(
            [
                ExceptionSpec(
                    code=error.code,
                    summary=error.message,
                    transaction_id=parent_id,
                    root_cause_key=error.root_cause_key,
                    details=error.details,
                )
            ]
        )
    if outcome.new_outbound:
        transaction.on_commit(lambda: doorbell.ring(WorkStageChoices.DELIVER))


def _send(transport, row: dict, timeout: float):
    """One POST; returns the DeliveryResult or the TransportError (runs in a sender thread)."""
    request = OutboundRequest(
        body=bytes(row["raw"]),
        idempotency_key=row["idempotency_key"],
        correlation_id=row["correlation_id"],
        document_type=row["document_type"],
        content_type=CONTENT_TYPES.get(row["format"], "application/octet-stream"),
        document_id=row["document_id"],
        format=row["format"],
    )
    try:
        return transport.send(request, timeout=timeout)
    except TransportError as error:
        return error


def _deliver_group(connector: Connector, group: list[Claim], rows: dict[int, dict], deadline):
    """Send one target's share of the batch within its rate limit and circuit breaker.

    Sends go out in waves of ``connector.concurrency`` parallel requests: a target that takes
    100 ms per posting is not reduced to ten postings a second per worker. Between waves the
    breaker and the clock are checked; what is not sent is handed back unspent.
    """
    gate = connector_gate(connector=connector, wanted=len(group))
    to_send, held = group[: gate.granted], group[gate.granted :]
    policy = RetryPolicy.for_connector(connector)
    root_cause = f"connector:{connector.slug}"
    sent: list[tuple[Claim, dict]] = []
    failed: list[Failure] = []
    consecutive = gate.consecutive_failures
    last_code = ""
    hold: float | None = None

    def failure(claim: Claim, error: TransportError) -> Failure:
        row = rows[claim.transaction_id]
        return Failure(claim, error, row["attempts"] + 1, policy, row["correlation_id"], root_cause)

    try:
        transport = transport_for(connector)
    except TransportError as error:
        # Misconfiguration (bad URL, missing token): every message of this target fails alike.
        work_release(held, delay=gate.wait_seconds)
        return sent, [failure(claim, error) for claim in to_send]

    width = max(1, connector.concurrency)
    # No request may outlive a quarter of the lease, and no wave starts unless it can finish
    # before the lease's half-way point: a batch never overlaps another worker's takeover.
    timeout = min(connector.timeout_seconds, settings.HUBCONSOLE["LEASE_SECONDS"] / 4)
    for start in range(0, len(to_send), width):
        # The gate already decided about the first wave (closed, or a half-open probe of one);
        # after that, failures can open the breaker, a 429 can pause the target, and the lease
        # can run short: each hands the rest back.
        stop = hold is not None or consecutive >= connector.breaker_threshold
        if start > 0 and (stop or time.monotonic() + timeout > deadline):
            held = to_send[start:] + held
            break
        wave = to_send[start : start + width]
        outcomes = _SENDERS.map(
            _send,
            [transport] * len(wave),
            [rows[c.transaction_id] for c in wave],
            [timeout] * len(wave),
        )
        for claim, outcome in zip(wave, outcomes, strict=True):
            if isinstance(outcome, TransportError):
                last_code = outcome.code
                failed.append(failure(claim, outcome))
                if outcome.code == codes.THROTTLED:
                    # The target is up but wants less: that answer closes the breaker and
                    # pauses the target until Retry-After.
                    consecutive = 0
                    hold = max(hold or 0.0, outcome.retry_after or policy.base_seconds)
                elif outcome.transient:
                    consecutive += 1
                continue
            consecutive = 0
            sent.append(
                (
                    claim,
                    {
                        "attempt": rows[claim.transaction_id]["attempts"] + 1,
                        "http_status": outcome.status,
                        "reference": outcome.reference,
                        "duration_ms": round(outcome.duration_ms, 1),
                        "replayed_by_target": outcome.replayed,
                    },
                )
            )
    if to_send:
        connector_breaker_record(
            connector=connector,
            consecutive_failures=consecutive,
            succeeded=bool(sent),
            last_error_code=last_code,
            hold_seconds=hold,
        )
    work_release(held, delay=max(gate.wait_seconds, hold or 0.0))
    if consecutive >= connector.breaker_threshold:
        logger.warning("circuit breaker opened for connector %s", connector.slug)
    return sent, failed


def _record_delivered(cursor, delivered: list[tuple[Claim, dict]]) -> None:
    if not delivered:
        return
    cursor.execute(
        """
        UPDATE pipeline_transaction t
        SET status = %s, attempts = u.attempt, last_error_code = '', last_error = '',
            completed_at = now(), updated_at = now()
        FROM unnest(%s::bigint[], %s::int[]) AS u(id, attempt)
        WHERE t.id = u.id
        """,
        [
            TransactionStatusChoices.COMPLETED,
            [claim.transaction_id for claim, _ in delivered],
            [detail["attempt"] for _, detail in delivered],
        ],
    )
    events_insert(
        cursor,
        [
            EventRow(
                claim.transaction_id,
                TransactionEventKindChoices.DELIVERED,
                message=f"Delivered (HTTP {detail['http_status']}).",
                detail=detail,
                actor_id=claim.actor_id,
            )
            for claim, detail in delivered
        ],
    )
