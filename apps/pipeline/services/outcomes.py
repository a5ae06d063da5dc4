"""Recording what happened to claimed work: retries with backoff, exceptions, poison messages.

Shared by every stage so the retry rules live in one place: a transient error is retried with
capped exponential backoff and jitter until the connector's attempt limit, then becomes
RETRIES_EXHAUSTED; a permanent error becomes its own code at once.
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings

from apps.core.errors import HubError
from apps.exceptions.catalogue import codes
from apps.exceptions.services import (
    ExceptionSpec,
    exceptions_open,
    exceptions_resolve_for_transactions,
)
from apps.pipeline.choices import TransactionEventKindChoices, TransactionStatusChoices
from apps.pipeline.services.work import (
    Claim,
    EventRow,
    events_insert,
    work_finish,
    work_reschedule,
)

# Retry-After beyond this is treated as this: the exception queue is the place for long waits.
MAX_RETRY_AFTER_SECONDS = 3600.0


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    cap_seconds: float

    @classmethod
    def for_connector(cls, connector) -> "RetryPolicy":
        return cls(
            connector.max_attempts, connector.backoff_base_seconds, connector.backoff_cap_seconds
        )


@dataclass(frozen=True)
class Failure:
    claim: Claim
    error: HubError
    attempt: int  # the attempt that just failed, counting from 1
    policy: RetryPolicy
    correlation_id: str
    root_cause_key: str = ""


def backoff_seconds(*, attempt: int, policy: RetryPolicy, retry_after: float | None) -> float:
    """Capped exponential backoff with jitter ("equal jitter": half fixed, half random)."""
    ceiling = min(policy.cap_seconds, policy.base_seconds * 2 ** (attempt - 1))
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return delay


def poison_failures(claims: Sequence[Claim], *, correlation_ids: dict[int, str]) -> list[Failure]:
    """Failures for claims that ended too many workers; they must not be processed again."""
    limit = settings.HUBCONSOLE["MAX_CRASHES"]
    error = HubError(
        codes.POISON_MESSAGE,
        f"Processing stopped a worker {limit} times; the message was taken out of the flow.",
    )
    policy = RetryPolicy(max_attempts=0, base_seconds=0, cap_seconds=0)
    return [
        Failure(c, error, c.crashes, policy, correlation_ids.get(c.transaction_id, ""))
        for c in claims
        if c.crashes >= limit
    ]


def failures_record(cursor, failures: Sequence[Failure]) -> None:
    """Reschedule or stop each failed claim, inside the caller's database transaction."""
    if not failures:
        return
    retry, stop = [], []
    for failure in failures:
        retrying = failure.error.transient and failure.attempt < failure.policy.max_attempts
        (retry if retrying else stop).append(failure)

    delays = [
        backoff_seconds(attempt=f.attempt, policy=f.policy, retry_after=f.error.retry_after)
        for f in retry
    ]
    rescheduled = work_reschedule(cursor, [f.claim for f in retry], delays)
    stopped = work_finish(cursor, [f.claim for f in stop])

    rows, events, specs = [], [], []
    for failure, delay in zip(retry, delays, strict=True):
        tx_id = failure.claim.transaction_id
        if tx_id not in rescheduled:
            continue
        rows.append((tx_id, TransactionStatusChoices.RETRYING, failure))
        events.append(
            EventRow(
                tx_id,
                TransactionEventKindChoices.RETRY_SCHEDULED,
                code=failure.error.code,
                message=failure.error.message,
                detail={
                    "attempt": failure.attempt,
                    "max_attempts": failure.policy.max_attempts,
                    "retry_in_seconds": round(delay, 2),
                    **failure.error.details,
                },
                actor_id=failure.claim.actor_id,
            )
        )
    for failure in stop:
        tx_id = failure.claim.transaction_id
        if tx_id not in stopped:
            continue
        code, message = failure.error.code, failure.error.message
        if failure.error.transient:
            code = codes.RETRIES_EXHAUSTED
            message = (
                f"Gave up after {failure.attempt} attempts; last error "
                f"{failure.error.code}: {failure.error.message}"
            )
        rows.append((tx_id, TransactionStatusChoices.EXCEPTION, failure))
        events.append(
            EventRow(
                tx_id,
                TransactionEventKindChoices.FAILED,
                code=code,
                message=message,
                detail={"attempt": failure.attempt, **failure.error.details},
                actor_id=failure.claim.actor_id,
            )
        )
        specs.append(
            ExceptionSpec(
                code=code,
                summary=message,
                transaction_id=tx_id,
                correlation_id=failure.correlation_id,
                root_cause_key=failure.error.root_cause_key or failure.root_cause_key,
                details={"last_error_code": failure.error.code, **failure.error.details},
                **ExceptionSpec.context_of(failure.error.details),
            )
        )

    if rows:
        cursor.execute(
            """
            UPDATE pipeline_transaction t
            SET status = u.status, attempts = u.attempt, last_error_code = u.code,
                last_error = left(u.message, 500), updated_at = now()
            FROM unnest(%s::bigint[], %s::varchar[], %s::int[], %s::varchar[], %s::varchar[])
                 AS u(id, status, attempt, code, message)
            WHERE t.id = u.id
            """,
            [
                [tx_id for tx_id, _, _ in rows],
                [status for _, status, _ in rows],
                [f.attempt for _, _, f in rows],
                [f.error.code for _, _, f in rows],
                [f.error.message for _, _, f in rows],
            ],
        )
    events_insert(cursor, events)
    exceptions_open(specs)


def successes_resolve(claims: Sequence[Claim], succeeded: set[int]) -> None:
    """Close the open exceptions of transactions that succeeded (they were replayed)."""
    by_actor: dict[int | None, list[int]] = {}
    for claim in claims:
        if claim.transaction_id in succeeded:
            by_actor.setdefault(claim.actor_id, []).append(claim.transaction_id)
    for actor_id, transaction_ids in by_actor.items():
        exceptions_resolve_for_transactions(
            transaction_ids=transaction_ids,
            actor_id=actor_id,
            reason="Resolved: the transaction succeeded when replayed.",
        )
