"""Pipeline queries for screens and the API, each with its own joins and bounds."""

from dataclasses import dataclass
from datetime import timedelta

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.exceptions.choices import OPEN_STATUSES, ExceptionActionChoices
from apps.exceptions.models import BusinessException
from apps.pipeline.choices import REPLAYABLE_STATUSES, TransactionEventKindChoices
from apps.pipeline.models import Transaction, TransactionEdit, TransactionEvent, TransactionKey

# Lists never load raw payloads: they can be megabytes and may hold patient data.
LIST_FIELDS = (
    "id",
    "connector__name",
    "connector__slug",
    "direction",
    "document_type",
    "document_id",
    "status",
    "correlation_id",
    "attempts",
    "last_error_code",
    "received_at",
    "completed_at",
    "raw_size",
    "revision",
)


def transaction_list() -> QuerySet[Transaction]:
    """Transactions for lists: their connector joined, their payload never loaded."""
    return Transaction.objects.select_related("connector").only(*LIST_FIELDS)


def transaction_search_ids(*, term: str, limit: int = 200) -> list[int]:
    """Transactions carrying ``term`` as a business key, correlation id, document id or id."""
    term = term.strip()
    if not term:
        return []
    # Newest first in each source, so a key on thousands of transactions shows the latest.
    ids = set(
        TransactionKey.objects.filter(value=term)
        .order_by("-transaction_id")
        .values_list("transaction_id", flat=True)[:limit]
    )
    ids |= set(
        Transaction.objects.filter(Q(correlation_id=term) | Q(document_id=term))
        .order_by("-id")
        .values_list("id", flat=True)[:limit]
    )
    if term.isascii() and term.isdigit() and len(term) < 19:
        ids.add(int(term))
    return sorted(ids, reverse=True)[:limit]


_WINDOW_IDS = """
SELECT min(id), max(id) FROM (
    SELECT id FROM pipeline_transaction WHERE received_at >= %s AND received_at < %s OFFSET 0
) window_ids
"""
# A row's received_at is the now() of the database transaction that inserts it (receive and
# derived inserts), and no such transaction inserts a day after it began. So every row received
# before a moment was inserted before every row received a day after it: the first id received
# then bounds them all (ids are drawn in insertion order).
_INSERT_LAG = timedelta(days=1)
_LOOK_AHEAD = (
    timedelta(hours=1),
    timedelta(days=1),
    timedelta(days=7),
    timedelta(days=31),
    timedelta(days=366),
)


def _window_ids(cursor, after, before) -> tuple[int | None, int | None]:
    cursor.execute(_WINDOW_IDS, [after, before])
    return cursor.fetchone()


def transaction_id_window(*, received_after, received_before) -> tuple[int, int] | None:
    """Smallest and largest id of the transactions received in [``received_after``,
    ``received_before``) when bounding the id helps a list ordered by id; ``(0, -1)`` when
    none was received then; None when the bound is not worth its query.

    Lists are newest first by id. For a window far from now PostgreSQL walks the primary key
    back from the newest row filtering on received_at (it cannot know that ids grow with
    time): six hours two months back read 675,000 rows of 1,000,000 (0.6 s, bench/console.py).
    The window's ids, read through the BRIN index on received_at, cost what the window holds,
    so they are worth it when the window is shorter than the time since its end. The
    subquery is fenced (OFFSET 0) so min/max are not planned as that same walk.

    With only ``received_before`` (everything before a moment well in the past), the upper id
    is just below the first received a day after it (in the hour, day, week, month or year that
    follows): rows are never inserted a day after their received_at. The received_at filters
    stay, so the rows listed are the same; only the walk to them is skipped. A lower bound
    alone is left alone: its ids are the newest, where the walk starts anyway.
    """
    if received_before is None:
        return None
    since_end = timezone.now() - received_before
    with connection.cursor() as cursor:
        if received_after is None:
            if since_end <= _INSERT_LAG:
                return None
            later = received_before + _INSERT_LAG
            for look_ahead in _LOOK_AHEAD:
                first, _ = _window_ids(cursor, later, later + look_ahead)
                if first is not None:
                    return (0, first - 1)
            return None
        if received_before - received_after >= since_end:
            return None
        low, high = _window_ids(cursor, received_after, received_before)
    return (low, high) if low is not None else (0, -1)


def transaction_get(*, transaction_id: int, with_raw: bool = False) -> Transaction:
    """One transaction with its connector; the payload only when the caller may show it."""
    queryset = Transaction.objects.select_related("connector")
    if not with_raw:
        queryset = queryset.defer("raw", "edited")
    return queryset.get(pk=transaction_id)


def replay_blockers(
    *, transaction_id: int, action: str = ExceptionActionChoices.REPLAY
) -> list[str]:
    """What stops a person replaying the transaction now: its open exceptions whose catalogue
    entry does not allow ``action`` (by code) and those a person put on hold."""
    blockers = []
    for code, allowed_actions, held_at in BusinessException.objects.filter(
        transaction_id=transaction_id, status__in=OPEN_STATUSES
    ).values_list("code_id", "code__allowed_actions", "held_at"):
        if action not in allowed_actions:
            blockers.append(code)
        elif held_at is not None:
            blockers.append(f"{code} (on hold)")
    return blockers


def transaction_can_replay(*, transaction: Transaction, user) -> bool:
    """Whether ``user`` may replay ``transaction`` now (the service enforces the same rules)."""
    return (
        user.has_perm("accounts.replay")
        and transaction.status in REPLAYABLE_STATUSES
        and not replay_blockers(transaction_id=transaction.pk)
    )


# Editing shows the payload, so it needs both permissions.
EDIT_PERMISSIONS = ("accounts.edit_and_replay", "accounts.view_payload")


def may_edit(user) -> bool:
    return user is not None and all(user.has_perm(p) for p in EDIT_PERMISSIONS)


def transaction_can_edit(*, transaction: Transaction, user) -> bool:
    """Whether ``user`` may edit and replay ``transaction`` now (the service enforces the same
    rules)."""
    return (
        may_edit(user)
        and transaction.status in REPLAYABLE_STATUSES
        and not replay_blockers(
            transaction_id=transaction.pk, action=ExceptionActionChoices.EDIT_REPLAY
        )
    )


def transaction_events(*, transaction_id: int) -> QuerySet[TransactionEvent]:
    return TransactionEvent.objects.filter(transaction_id=transaction_id).select_related("actor")


def transaction_lineage(*, transaction: Transaction, limit: int = 100) -> list[Transaction]:
    """Every transaction of the same flow (correlation id) across systems, oldest first."""
    return list(
        Transaction.objects.filter(correlation_id=transaction.correlation_id)
        .select_related("connector")
        .only(*LIST_FIELDS, "parent_id")
        .order_by("received_at", "id")[:limit]
    )


@dataclass(frozen=True)
class Overview:
    received: int
    completed: int
    failed: int
    retrying: int
    duplicates: int
    ready: int
    leased: int
    waiting: int


def pipeline_overview(*, hours: int = 24) -> Overview:
    """Counts for the home page over the last ``hours`` (index range scans, no full counts)."""
    since = timezone.now() - timedelta(hours=hours)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FILTER (WHERE direction = 'in'),
                   count(*) FILTER (WHERE status = 'completed'),
                   count(*) FILTER (WHERE status = 'exception'),
                   count(*) FILTER (WHERE status = 'retrying')
            FROM pipeline_transaction WHERE received_at >= %s
            """,
            [since],
        )
        received, completed, failed, retrying = cursor.fetchone()
        cursor.execute(
            """
            SELECT count(*) FILTER (WHERE available_at <= now()
                                      AND (leased_until IS NULL OR leased_until < now())),
                   count(*) FILTER (WHERE leased_until >= now()),
                   count(*) FILTER (WHERE available_at > now())
            FROM pipeline_workitem
            """
        )
        ready, leased, waiting = cursor.fetchone()
    duplicates = TransactionEvent.objects.filter(
        kind=TransactionEventKindChoices.DUPLICATE_SUPPRESSED, at__gte=since
    ).count()
    return Overview(received, completed, failed, retrying, duplicates, ready, leased, waiting)


def transaction_edits(*, transaction_id: int) -> QuerySet[TransactionEdit]:
    """A transaction's field-level corrections, oldest first (values: payload viewers only)."""
    return (
        TransactionEdit.objects.filter(transaction_id=transaction_id)
        .select_related("actor")
        .defer("body")
    )
