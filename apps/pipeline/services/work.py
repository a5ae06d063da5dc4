"""Claiming work from PostgreSQL with leases, recording outcomes, sweeping lost doorbells.

Every stage follows the same cycle: ``work_claim`` takes a batch (its own short commit), the
stage does its work outside any database transaction, and records the outcome in one commit
that only touches items still leased to it. A worker that dies leaves its lease to expire; the
items become claimable again with ``open_claims`` raised, are retried one at a time, and turn
into POISON_MESSAGE exceptions once they have ended too many workers.
"""

import json
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from apps.pipeline import doorbell
from apps.pipeline.choices import TransactionEventKindChoices

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claim:
    work_item_id: int
    transaction_id: int
    connector_id: int
    open_claims: int
    actor_id: int | None
    lease: str

    @property
    def crashes(self) -> int:
        """How many earlier claims of this item ended without an outcome (worker died)."""
        return self.open_claims - 1


@dataclass(frozen=True)
class EventRow:
    transaction_id: int
    kind: str
    code: str = ""
    message: str = ""
    detail: dict | None = None
    actor_id: int | None = None


# Paused or disabled connectors and open circuit breakers hold their work where it is; the
# ORDER BY uses work_ready_idx; SKIP LOCKED lets any number of workers claim side by side.
_CLAIM_SQL = """
WITH ready AS (
    SELECT w.id
    FROM pipeline_workitem w
    JOIN connectors_connector c ON c.id = w.connector_id
    LEFT JOIN connectors_connectorstate s ON s.connector_id = w.connector_id
    WHERE w.stage = %(stage)s
      AND w.available_at <= now()
      AND (w.leased_until IS NULL OR w.leased_until < now())
      AND {lane}
      AND c.enabled AND NOT c.paused
      AND (s.opened_until IS NULL OR s.opened_until <= now())
      AND (s.held_until IS NULL OR s.held_until <= now())
    ORDER BY w.available_at
    LIMIT %(limit)s
    FOR UPDATE OF w SKIP LOCKED
)
UPDATE pipeline_workitem w
SET leased_until = now() + make_interval(secs => %(lease_seconds)s),
    lease_owner = %(lease)s,
    open_claims = w.open_claims + 1
FROM ready
WHERE w.id = ready.id
RETURNING w.id, w.transaction_id, w.connector_id, w.open_claims, w.actor_id
"""


def work_claim(*, stage: str, limit: int, suspects: bool = False) -> list[Claim]:
    """Lease up to ``limit`` ready items of ``stage``.

    ``suspects`` selects items whose earlier claim never finished: they are claimed one at a
    time so that one poison message cannot take a whole batch of good ones down with it.
    """
    lease = uuid.uuid4().hex
    lane = "w.open_claims > 0" if suspects else "w.open_claims = 0"
    with connection.cursor() as cursor:
        cursor.execute(
            _CLAIM_SQL.format(lane=lane),
            {
                "stage": stage,
                "limit": 1 if suspects else limit,
                "lease_seconds": settings.HUBCONSOLE["LEASE_SECONDS"],
                "lease": lease,
            },
        )
        rows = cursor.fetchall()
    return [Claim(*row, lease=lease) for row in rows]


# Columns a stage may load for its claimed transactions (never anything a caller typed).
_CLAIMED_COLUMNS = frozenset(
    {
        "connector_id",
        "format",
        "document_type",
        "raw",
        "correlation_id",
        "attempts",
        "idempotency_key",
        "document_id",
        "revision",
    }
)


def claimed_transactions(claims: Sequence[Claim], *columns: str) -> dict[int, dict]:
    """The claimed transactions as {id: {column: value}}, in one query."""
    unknown = set(columns) - _CLAIMED_COLUMNS
    if unknown:
        raise ValueError(f"not loadable: {sorted(unknown)}")
    # A message a person corrected (edit-and-replay) is processed or delivered as corrected.
    selected = ["coalesce(edited, raw) AS raw" if c == "raw" else c for c in columns]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, {', '.join(selected)} FROM pipeline_transaction "  # noqa: S608 (allow-list)
            "WHERE id = ANY(%s)",
            [[c.transaction_id for c in claims]],
        )
        names = [col.name for col in cursor.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


def work_lock_owned(cursor, claims: Sequence[Claim]) -> set[int]:
    """Lock the work items this worker still holds; returns their transaction ids.

    Call first inside the outcome's database transaction: until it commits, no other worker
    can take these items over, so the outcome is decided once.
    """
    if not claims:
        return set()
    cursor.execute(
        "SELECT transaction_id FROM pipeline_workitem WHERE id = ANY(%s) AND lease_owner = ANY(%s) "
        "FOR UPDATE",
        [[c.work_item_id for c in claims], list({c.lease for c in claims})],
    )
    return {row[0] for row in cursor.fetchall()}


def work_finish(cursor, claims: Sequence[Claim]) -> set[int]:
    """Delete the work items of claims this worker still holds; returns their transaction ids.

    Call inside the outcome's database transaction. An item whose lease expired and was taken
    by another worker is left alone: that worker now owns its outcome.
    """
    if not claims:
        return set()
    cursor.execute(
        "DELETE FROM pipeline_workitem WHERE id = ANY(%s) AND lease_owner = ANY(%s) "
        "RETURNING transaction_id",
        [[c.work_item_id for c in claims], list({c.lease for c in claims})],
    )
    return {row[0] for row in cursor.fetchall()}


def work_reschedule(cursor, claims: Sequence[Claim], delays: Sequence[float]) -> set[int]:
    """Release claims for a later attempt (``delays`` in seconds, one per claim)."""
    if not claims:
        return set()
    cursor.execute(
        """
        UPDATE pipeline_workitem w
        SET available_at = now() + make_interval(secs => d.delay),
            leased_until = NULL, lease_owner = '', open_claims = 0
        FROM unnest(%s::bigint[], %s::float8[]) AS d(id, delay)
        WHERE w.id = d.id AND w.lease_owner = ANY(%s)
        RETURNING w.transaction_id
        """,
        [[c.work_item_id for c in claims], list(delays), list({c.lease for c in claims})],
    )
    return {row[0] for row in cursor.fetchall()}


def work_release(claims: Sequence[Claim], *, delay: float = 0.0) -> None:
    """Give claims back untouched (no attempt used), e.g. when a rate limit has no tokens."""
    if not claims:
        return
    with connection.cursor() as cursor:
        work_reschedule(cursor, claims, [delay] * len(claims))


def events_insert(cursor, events: Iterable[EventRow]) -> None:
    events = list(events)
    if not events:
        return
    cursor.execute(
        """
        INSERT INTO pipeline_transactionevent
            (transaction_id, kind, at, actor_id, code, message, detail)
        SELECT e.transaction_id, e.kind, now(), e.actor_id, e.code, left(e.message, 500), e.detail
        FROM unnest(%s::bigint[], %s::varchar[], %s::bigint[], %s::varchar[], %s::varchar[],
                    %s::jsonb[]) AS e(transaction_id, kind, actor_id, code, message, detail)
        """,
        [
            [e.transaction_id for e in events],
            [e.kind for e in events],
            [e.actor_id for e in events],
            [e.code for e in events],
            [e.message for e in events],
            [json.dumps(e.detail or {}) for e in events],
        ],
    )


def reclaim_events(claims: Sequence[Claim]) -> list[EventRow]:
    """Events recording that an item was taken over after a worker stopped mid-claim."""
    return [
        EventRow(
            c.transaction_id,
            TransactionEventKindChoices.RECLAIMED,
            message=f"Claimed again after {c.crashes} unfinished claim(s).",
            detail={"unfinished_claims": c.crashes},
        )
        for c in claims
        if c.crashes > 0
    ]


# --- Sweeping ----------------------------------------------------------------------------------

_READY_SQL = """
SELECT w.stage, count(*), extract(epoch FROM now() - min(w.available_at))
FROM pipeline_workitem w
JOIN connectors_connector c ON c.id = w.connector_id
LEFT JOIN connectors_connectorstate s ON s.connector_id = w.connector_id
WHERE w.available_at <= now()
  AND (w.leased_until IS NULL OR w.leased_until < now())
  AND c.enabled AND NOT c.paused
  AND (s.opened_until IS NULL OR s.opened_until <= now())
  AND (s.held_until IS NULL OR s.held_until <= now())
GROUP BY w.stage
"""


def work_ready_counts() -> dict[str, tuple[int, float]]:
    """Per stage: how many items are claimable now, and how long the oldest has waited (s)."""
    with connection.cursor() as cursor:
        cursor.execute(_READY_SQL)
        return {stage: (count, float(age)) for stage, count, age in cursor.fetchall()}


def work_sweep() -> dict[str, int]:
    """Ring the doorbell of every stage with claimable work; returns ready counts.

    Work that waited longer than the sweep interval had its doorbell lost (Redis flushed, a
    worker killed with its task): that bell is rung even if the debounce key says it was.
    """
    interval = float(settings.CELERY_BEAT_SCHEDULE["pipeline-sweep"]["schedule"])
    ready = work_ready_counts()
    for stage, (count, age) in ready.items():
        stale = age > 2 * interval
        if doorbell.ring(stage, force=stale) and stale:
            logger.info("sweeper re-drove %s: %d ready, oldest %.1fs", stage, count, age)
    return {stage: count for stage, (count, _) in ready.items()}


def work_queue_vacuum() -> None:
    """Vacuum the hot queue tables.

    Every message inserts, leases (updates) and deletes its work items, leaving dead rows that
    claims must step over: at a few hundred messages a second they pile up faster than
    autovacuum's default pace (or at all, where autovacuum is off), and a claim that took
    0.02 ms takes milliseconds. Vacuuming these small tables every few seconds is cheap and
    never blocks claims.
    """
    with connection.cursor() as cursor:
        cursor.execute("VACUUM pipeline_workitem, connectors_connectorstate")
