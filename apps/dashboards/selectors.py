"""Dashboard queries: each figure per bucket of a window, in one SQL statement per chart.

Every query over the transaction store is bounded by the window on ``received_at`` (the BRIN
index ``tx_received_brin``), so its cost follows the window, not the size of the store.

Buckets are numbered 1..n: ``generate_series(1, n)`` is the spine (so an empty bucket is a
row of zeros) and a row falls into bucket ``width_bucket(at, edges)``, where ``edges`` are
the window's bucket starts, computed once in Python in the display time zone (windows.py).
That buckets every row as ``date_trunc(unit, at, zone)`` would, in about half the time
(measured on a 30-day window of 330,000 transactions: 110 ms instead of 220 ms), and the
labels and the SQL can never disagree about where a day begins.
"""

import datetime
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from apps.dashboards.windows import Window, window_get
from apps.p2p.choices import InvoiceStatusChoices
from apps.pipeline.choices import (
    DirectionChoices,
    TransactionEventKindChoices,
    WorkStageChoices,
)

OTHERS = "Others"
# A rejected invoice was decided (by a person), so it is never touchless.
DECIDED_STATUSES = (
    InvoiceStatusChoices.MATCHED,
    InvoiceStatusChoices.VOUCHERED,
    InvoiceStatusChoices.EXCEPTION,
    InvoiceStatusChoices.REJECTED,
)
MATCHED_STATUSES = (InvoiceStatusChoices.MATCHED, InvoiceStatusChoices.VOUCHERED)
EXCEPTION_DIMENSIONS = ("code", "team", "supplier", "facility")
EXCEPTION_TOP = 5  # values of a dimension drawn as their own series; the rest are "Others"


def _rows(sql: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@dataclass(frozen=True)
class FlowBucket:
    """Transactions received in the window: how many arrived and completed in one bucket,
    and how many of those received so far were still not completed at the bucket's end."""

    start: datetime.datetime
    received_in: int
    received_out: int
    completed_in: int
    completed_out: int
    open_in: int
    open_out: int


_FLOW_SQL = """
WITH pairs AS (
    -- One pass over the window's rows, folded at once into (bucket received, bucket
    -- completed, direction): a few hundred groups however many rows.
    SELECT width_bucket(received_at, %(edges)s::timestamptz[]) AS received,
           CASE WHEN completed_at < %(end)s
                THEN width_bucket(completed_at, %(edges)s::timestamptz[]) END AS completed,
           direction = %(in)s AS inbound, count(*) AS n
    FROM pipeline_transaction
    WHERE received_at >= %(start)s AND received_at < %(end)s
    GROUP BY 1, 2, 3
),
received AS (
    SELECT received AS bucket, sum(n) FILTER (WHERE inbound) AS inbound,
           sum(n) FILTER (WHERE NOT inbound) AS outbound
    FROM pairs GROUP BY 1
),
completed AS (
    SELECT completed AS bucket, sum(n) FILTER (WHERE inbound) AS inbound,
           sum(n) FILTER (WHERE NOT inbound) AS outbound
    FROM pairs WHERE completed IS NOT NULL GROUP BY 1
)
SELECT s.bucket,
       coalesce(r.inbound, 0), coalesce(r.outbound, 0),
       coalesce(c.inbound, 0), coalesce(c.outbound, 0),
       sum(coalesce(r.inbound, 0) - coalesce(c.inbound, 0)) OVER w,
       sum(coalesce(r.outbound, 0) - coalesce(c.outbound, 0)) OVER w
FROM generate_series(1, %(buckets)s) AS s(bucket)
LEFT JOIN received r USING (bucket)
LEFT JOIN completed c USING (bucket)
WINDOW w AS (ORDER BY s.bucket)
ORDER BY s.bucket
"""


def transaction_flow_series(*, window: Window) -> list[FlowBucket]:
    """Throughput and backlog per bucket, of the transactions received in the window.

    Completed counts a transaction in the bucket of its ``completed_at``; the backlog at a
    bucket's end is received minus completed so far (``completed_at`` never precedes
    ``received_at``), so it includes messages stopped with an exception, waiting or stored
    aside.
    """
    rows = _rows(_FLOW_SQL, {**window.sql_params(), "in": DirectionChoices.INBOUND.value})
    return [
        FlowBucket(start, *(int(n) for n in figures))
        for start, (_, *figures) in zip(window.starts, rows, strict=True)
    ]


@dataclass(frozen=True)
class LatencyBucket:
    """Time from received to completed of the transactions completed in one bucket."""

    start: datetime.datetime
    completed: int
    p50: float | None  # seconds
    p95: float | None
    p99: float | None


_LATENCY_SQL = """
WITH latency AS (
    SELECT width_bucket(completed_at, %(edges)s::timestamptz[]) AS bucket,
           count(*) AS completed,
           -- percentile_disc: each figure is the latency of a real transaction.
           percentile_disc(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (
               ORDER BY completed_at - received_at
           ) AS p
    FROM pipeline_transaction
    WHERE received_at >= %(start)s AND received_at < %(end)s
      AND completed_at < %(end)s
    GROUP BY 1
)
SELECT s.bucket, coalesce(l.completed, 0),
       extract(epoch FROM l.p[1]), extract(epoch FROM l.p[2]), extract(epoch FROM l.p[3])
FROM generate_series(1, %(buckets)s) AS s(bucket)
LEFT JOIN latency l USING (bucket)
ORDER BY s.bucket
"""


def latency_series(*, window: Window) -> list[LatencyBucket]:
    """p50, p95 and p99 of completed_at - received_at per bucket of completion."""
    rows = _rows(_LATENCY_SQL, window.sql_params())
    return [
        LatencyBucket(start, completed, *(None if p is None else float(p) for p in percentiles))
        for start, (_, completed, *percentiles) in zip(window.starts, rows, strict=True)
    ]


@dataclass(frozen=True)
class StageDepth:
    """Work items of one stage now: being worked on, ready to claim, or due later (retry)."""

    stage: str
    label: str
    in_progress: int
    ready: int
    scheduled: int

    @property
    def total(self) -> int:
        return self.in_progress + self.ready + self.scheduled


_QUEUE_SQL = """
SELECT stage,
       count(*) FILTER (WHERE leased_until >= %(now)s) AS in_progress,
       count(*) FILTER (WHERE (leased_until IS NULL OR leased_until < %(now)s)
                          AND available_at <= %(now)s) AS ready,
       count(*) FILTER (WHERE (leased_until IS NULL OR leased_until < %(now)s)
                          AND available_at > %(now)s) AS scheduled
FROM pipeline_workitem
GROUP BY stage
"""


def queue_depth_now(*, now: datetime.datetime | None = None) -> list[StageDepth]:
    """Work items waiting now, per stage (the queue table holds pending work only, so it is
    small whatever the store's size)."""
    found = {stage: counts for stage, *counts in _rows(_QUEUE_SQL, {"now": now or timezone.now()})}
    return [
        StageDepth(stage.value, stage.label, *found.get(stage.value, (0, 0, 0)))
        for stage in WorkStageChoices
    ]


@dataclass(frozen=True)
class DimensionSeries:
    """Exceptions opened per bucket for one value of a dimension (None: the others folded)."""

    value: str | None
    total: int
    counts: list[int]

    @property
    def name(self) -> str:
        return OTHERS if self.value is None else self.value


_EXCEPTIONS_SQL = """
WITH combinations AS (
    -- One pass over the window's exceptions, first folded by everything the four charts
    -- split by: far fewer rows to fan out below.
    SELECT width_bucket(opened_at, %(edges)s::timestamptz[]) AS bucket,
           code_id, team_id, supplier, facility, count(*) AS n
    FROM exceptions_businessexception
    WHERE opened_at >= %(start)s AND opened_at < %(end)s
    GROUP BY 1, 2, 3, 4, 5
),
opened AS (
    -- Values compare bytewise ("C"): grouping and ranking need no linguistic collation.
    -- Exceptions naming no supplier or facility count in the code and team charts only.
    SELECT c.bucket, d.dimension, d.value, sum(c.n) AS n
    FROM combinations c
    JOIN exceptions_team team ON team.id = c.team_id
    CROSS JOIN LATERAL (
        VALUES ('code', c.code_id::text COLLATE "C"), ('team', team.name COLLATE "C"),
               ('supplier', nullif(c.supplier, '') COLLATE "C"),
               ('facility', nullif(c.facility, '') COLLATE "C")
    ) AS d(dimension, value)
    WHERE d.value IS NOT NULL
    GROUP BY 1, 2, 3
),
ranked AS (
    SELECT dimension, value,
           row_number() OVER (PARTITION BY dimension ORDER BY sum(n) DESC, value) AS rank
    FROM opened
    GROUP BY dimension, value
)
SELECT o.dimension, CASE WHEN r.rank <= %(top)s THEN o.value END AS value, o.bucket, sum(o.n)
FROM opened o JOIN ranked r USING (dimension, value)
GROUP BY 1, 2, 3
"""


def exceptions_opened_series(
    *, window: Window, top: int = EXCEPTION_TOP
) -> dict[str, list[DimensionSeries]]:
    """Exceptions opened per bucket by code, team, supplier and facility: the ``top`` values
    of each dimension (most exceptions in the window) and the rest folded into one series."""
    found: dict[str, dict[str | None, list[int]]] = {d: {} for d in EXCEPTION_DIMENSIONS}
    for dimension, value, bucket, count in _rows(
        _EXCEPTIONS_SQL, {**window.sql_params(), "top": top}
    ):
        counts = found[dimension].setdefault(value, [0] * len(window.starts))
        counts[bucket - 1] = int(count)
    result = {}
    for dimension, by_value in found.items():
        series = [DimensionSeries(value, sum(c), c) for value, c in by_value.items()]
        # Largest first, ties by name; the others last whatever their size.
        series.sort(key=lambda s: (s.value is None, -s.total, s.value or ""))
        result[dimension] = series
    return result


@dataclass(frozen=True)
class TouchlessBucket:
    """Invoices decided in one bucket, and how many of them no person touched."""

    start: datetime.datetime
    decided: int
    touchless: int

    @property
    def rate(self) -> float | None:
        return self.touchless / self.decided if self.decided else None


_TOUCHLESS_SQL = """
WITH decided AS (
    -- An invoice counts once, at its latest verdict: when it matched, or, while it stays in
    -- exception (or once a person rejected it), when that verdict was last written. No
    -- index serves this bound: the invoices table is read whole (see docs/dashboards.md).
    SELECT CASE WHEN i.status = ANY(%(matched)s) THEN i.matched_at ELSE i.updated_at END AS at,
           i.status = ANY(%(matched)s)
           AND i.accepted_by_id IS NULL AND i.accepted_at IS NULL
           AND NOT EXISTS (
               SELECT 1 FROM exceptions_businessexception x
               WHERE x.transaction_id = i.source_transaction_id
           ) AS touchless
    FROM p2p_invoice i
    WHERE i.status = ANY(%(decided)s)
),
counts AS (
    SELECT width_bucket(at, %(edges)s::timestamptz[]) AS bucket, count(*) AS decided,
           count(*) FILTER (WHERE touchless) AS touchless
    FROM decided
    WHERE at >= %(start)s AND at < %(end)s
    GROUP BY 1
)
SELECT s.bucket, coalesce(c.decided, 0), coalesce(c.touchless, 0)
FROM generate_series(1, %(buckets)s) AS s(bucket)
LEFT JOIN counts c USING (bucket)
ORDER BY s.bucket
"""


def touchless_invoice_series(*, window: Window) -> list[TouchlessBucket]:
    """Per bucket: invoices decided (matched, vouchered, in exception or rejected) and, of
    those, the touchless ones: matched with no business exception ever raised on their
    source transaction and no variance accepted by a person."""
    rows = _rows(
        _TOUCHLESS_SQL,
        {
            **window.sql_params(),
            "matched": [str(s) for s in MATCHED_STATUSES],
            "decided": [str(s) for s in DECIDED_STATUSES],
        },
    )
    return [
        TouchlessBucket(start, decided, touchless)
        for start, (_, decided, touchless) in zip(window.starts, rows, strict=True)
    ]


@dataclass(frozen=True)
class CountBucket:
    start: datetime.datetime
    count: int


_DUPLICATES_SQL = """
WITH counts AS (
    SELECT width_bucket(at, %(edges)s::timestamptz[]) AS bucket, count(*) AS n
    FROM pipeline_transactionevent
    WHERE kind = %(kind)s AND at >= %(start)s AND at < %(end)s  -- txevent_kind_at_idx
    GROUP BY 1
)
SELECT s.bucket, coalesce(c.n, 0)
FROM generate_series(1, %(buckets)s) AS s(bucket)
LEFT JOIN counts c USING (bucket)
ORDER BY s.bucket
"""


def duplicates_suppressed_series(*, window: Window) -> list[CountBucket]:
    """Inbound resends recognised by their natural key and not processed again, per bucket."""
    rows = _rows(
        _DUPLICATES_SQL,
        {**window.sql_params(), "kind": TransactionEventKindChoices.DUPLICATE_SUPPRESSED.value},
    )
    return [CountBucket(start, n) for start, (_, n) in zip(window.starts, rows, strict=True)]


@dataclass(frozen=True)
class Dashboard:
    window: Window
    flow: list[FlowBucket]
    latency: list[LatencyBucket]
    queue: list[StageDepth]
    exceptions: dict[str, list[DimensionSeries]]
    touchless: list[TouchlessBucket]
    duplicates: list[CountBucket]


def dashboard_get(
    *, window_key: str | None, now: datetime.datetime | None = None, tz: str | None = None
) -> Dashboard:
    """Every figure of the dashboards page for the window named ``window_key``."""
    window = window_get(key=window_key, now=now, tz=tz)
    return Dashboard(
        window=window,
        flow=transaction_flow_series(window=window),
        latency=latency_series(window=window),
        queue=queue_depth_now(now=window.end),
        exceptions=exceptions_opened_series(window=window),
        touchless=touchless_invoice_series(window=window),
        duplicates=duplicates_suppressed_series(window=window),
    )
