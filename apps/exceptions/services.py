"""Business exception services: open (in bulk, from the pipeline) and work them (people)."""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from apps.alerts.services import sla_book, sla_due_at
from apps.core.audit import acting_as
from apps.core.errors import HubError, PermissionDenied
from apps.exceptions.catalogue import CODE_NAMES, CODES, TEAMS
from apps.exceptions.choices import (
    OPEN_STATUSES,
    BusinessExceptionStatusChoices,
    ExceptionActionChoices,
    ExceptionActivityKindChoices,
)
from apps.exceptions.models import BusinessException, ExceptionActivity, ExceptionCode, Team

WORK_PERMISSION = "exceptions.change_businessexception"


@dataclass(frozen=True)
class ExceptionSpec:
    """What the pipeline knows when something fails. No patient identifiers in any field."""

    code: str
    summary: str
    transaction_id: int | None = None
    correlation_id: str = ""
    root_cause_key: str = ""
    details: dict = field(default_factory=dict)
    supplier: str = ""
    facility: str = ""
    amount: Decimal | None = None
    document: str = ""

    @classmethod
    def context_of(cls, details: dict) -> dict:
        """The business context a coded error carries in ``details["context"]`` (keys
        supplier, facility, amount, document), as fields of a spec."""
        context = details.get("context") or {}
        amount = context.get("amount")
        try:
            amount = Decimal(str(amount)).quantize(Decimal("0.01")) if amount else None
        except (ArithmeticError, ValueError):
            amount = None
        if amount is not None and abs(amount) >= Decimal("1e12"):
            amount = None
        return {
            "supplier": str(context.get("supplier") or "")[:60],
            "facility": str(context.get("facility") or "")[:60],
            "amount": amount,
            "document": str(context.get("document") or "")[:120],
        }


# Opening is set-based: a batch of failures becomes exceptions in two statements. A failure
# that repeats while its exception is open counts an occurrence on the same row (the partial
# unique index exception_one_open_per_transaction_code is the conflict target).
_OPEN_SQL = """
WITH spec AS (
    SELECT * FROM unnest(
        %(codes)s::varchar[], %(transactions)s::bigint[], %(correlations)s::varchar[],
        %(keys)s::varchar[], %(summaries)s::varchar[], %(details)s::jsonb[], %(counts)s::int[],
        %(suppliers)s::varchar[], %(facilities)s::varchar[], %(amounts)s::numeric[],
        %(documents)s::varchar[]
    ) AS s(code, transaction_id, correlation_id, root_cause_key, summary, details, n,
           supplier, facility, amount, document)
)
INSERT INTO exceptions_businessexception AS e (
    code_id, team_id, severity, status, transaction_id, correlation_id, root_cause_key,
    summary, details, occurrences, opened_at, last_seen_at, due_at, resolution,
    supplier, facility, amount, document
)
SELECT spec.code, c.owning_team_id, c.severity, 'open', spec.transaction_id,
       spec.correlation_id, spec.root_cause_key, left(spec.summary, 300), spec.details, spec.n,
       now(), now(), (%(due_at)s::jsonb ->> spec.code)::timestamptz, '',
       spec.supplier, spec.facility, spec.amount, spec.document
FROM spec JOIN exceptions_exceptioncode c ON c.code = spec.code
ON CONFLICT {target}
DO UPDATE SET occurrences = e.occurrences + EXCLUDED.occurrences, last_seen_at = now(),
              summary = EXCLUDED.summary, details = EXCLUDED.details,
              supplier = EXCLUDED.supplier, facility = EXCLUDED.facility,
              amount = EXCLUDED.amount, document = EXCLUDED.document
RETURNING e.id, (xmax = 0) AS inserted, e.summary, e.transaction_id, e.code_id, e.root_cause_key
"""
# The two partial unique indexes that say when an exception is "the same one, again".
_ON_TRANSACTION = "(transaction_id, code_id) WHERE status IN ('open', 'in_progress')"
_ON_ROOT_CAUSE = (
    "(code_id, root_cause_key) WHERE status IN ('open', 'in_progress') AND transaction_id IS NULL"
)


def _identity(spec: ExceptionSpec) -> tuple:
    if spec.transaction_id is not None:
        return ("tx", spec.transaction_id, spec.code)
    return ("cause", spec.code, spec.root_cause_key[:200])


def exceptions_open(specs: Sequence[ExceptionSpec]) -> list[int]:
    """Open (or count again) one exception per spec; returns their ids, one per spec in the
    order given. An exception is the same one again when it has the same transaction and
    code, or, without a transaction, the same code and root cause. Joins the caller's
    database transaction."""
    if not specs:
        return []
    given = list(specs)
    # ON CONFLICT DO UPDATE may touch a row only once per statement: fold repeats within one
    # batch into one spec that counts them all.
    merged: dict[tuple, tuple[ExceptionSpec, int]] = {}
    for spec in given:
        key = _identity(spec)
        merged[key] = (spec, merged.get(key, (spec, 0))[1] + 1)
    wanted = {spec.code for spec in given}
    known = ExceptionCode.objects.filter(code__in=wanted).values_list("code", flat=True)
    unknown = wanted - set(known)
    if unknown and unknown <= CODE_NAMES:
        # A seed code the pipeline relies on was removed: put it back rather than lose a batch.
        exception_catalogue_sync()
    elif unknown:
        raise HubError("CATALOGUE_MISSING", f"Codes not in the exception catalogue: {unknown}")

    ids: dict[tuple, int] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        # Due dates follow the SLA policies and their business calendars (apps.alerts), from
        # the now() the insert stores as opened_at (one transaction, one now()).
        book = sla_book()
        due_at = json.dumps(
            {
                code.code: sla_due_at(
                    code=code, category=code.category, opened_at=code.opened_at, book=book
                ).isoformat()
                for code in ExceptionCode.objects.filter(code__in=wanted).annotate(
                    opened_at=RawSQL("now()", ())
                )
            }
        )
        for target, group in (
            (_ON_TRANSACTION, [v for k, v in merged.items() if k[0] == "tx"]),
            (_ON_ROOT_CAUSE, [v for k, v in merged.items() if k[0] == "cause"]),
        ):
            if not group:
                continue
            cursor.execute(
                _OPEN_SQL.format(target=target),
                {
                    "codes": [s.code for s, _ in group],
                    "transactions": [s.transaction_id for s, _ in group],
                    "correlations": [s.correlation_id for s, _ in group],
                    "keys": [s.root_cause_key[:200] for s, _ in group],
                    "summaries": [s.summary[:300] for s, _ in group],
                    "details": [json.dumps(s.details) for s, _ in group],
                    "counts": [n for _, n in group],
                    "suppliers": [s.supplier for s, _ in group],
                    "facilities": [s.facility for s, _ in group],
                    "amounts": [s.amount for s, _ in group],
                    "documents": [s.document for s, _ in group],
                    "due_at": due_at,
                },
            )
            rows = cursor.fetchall()
            ExceptionActivity.objects.bulk_create(
                ExceptionActivity(
                    exception_id=exception_id,
                    kind=(
                        ExceptionActivityKindChoices.OPENED
                        if inserted
                        else ExceptionActivityKindChoices.REOCCURRED
                    ),
                    message=summary,
                )
                for exception_id, inserted, summary, *_ in rows
            )
            for exception_id, _, _, transaction_id, code, cause in rows:
                key = ("tx", transaction_id, code) if transaction_id else ("cause", code, cause)
                ids[key] = exception_id
    return [ids[_identity(spec)] for spec in given]


@transaction.atomic
def exceptions_resolve_for_transactions(
    *, transaction_ids: Iterable[int], actor_id: int | None, reason: str
) -> int:
    """Resolve the open exceptions of transactions that have now succeeded (after a replay).

    Saved one by one under the replaying user so django-auditlog attributes the change, even
    when this runs inside a worker.
    """
    open_items = _open_of(transaction_ids)
    if not open_items:
        return 0
    return _close_all(
        open_items,
        actor=_user(actor_id),
        reason=reason,
        status=BusinessExceptionStatusChoices.RESOLVED,
        kind=ExceptionActivityKindChoices.RESOLVED,
    )


def _open_of(transaction_ids: Iterable[int]) -> list[BusinessException]:
    """The open exceptions of these transactions, locked."""
    return list(
        BusinessException.objects.filter(
            transaction_id__in=list(transaction_ids), status__in=OPEN_STATUSES
        ).select_for_update()
    )


def _close_all(items, *, actor, reason: str, status: str, kind: str) -> int:
    """Close ``items`` with ``status`` and say so in their activity. Saved one by one under
    ``actor`` so django-auditlog attributes the change, even inside a worker."""
    now = timezone.now()
    with acting_as(actor):
        for item in items:
            item.status = status
            item.resolved_at = now
            item.resolution = reason[:300]
            item.save(update_fields=["status", "resolved_at", "resolution"])
    ExceptionActivity.objects.bulk_create(
        ExceptionActivity(exception=item, kind=kind, actor=actor, message=reason) for item in items
    )
    return len(items)


def exceptions_note(
    *, transaction_id: int, actor: AbstractBaseUser | None, kind: str, message: str, data=None
) -> int:
    """Record something that happened to a transaction on each of its open exceptions."""
    items = list(
        BusinessException.objects.filter(transaction_id=transaction_id, status__in=OPEN_STATUSES)
    )
    ExceptionActivity.objects.bulk_create(
        ExceptionActivity(exception=item, kind=kind, actor=actor, message=message, data=data or {})
        for item in items
    )
    return len(items)


def exceptions_note_replay(*, transaction_id: int, actor: AbstractBaseUser | None) -> int:
    """Record on a transaction's open exceptions that someone asked for a replay."""
    return exceptions_note(
        transaction_id=transaction_id,
        actor=actor,
        kind=ExceptionActivityKindChoices.REPLAY_REQUESTED,
        message="Replay requested.",
    )


def exceptions_reject_for_transaction(*, transaction_id: int, actor, reason: str) -> int:
    """Close every open exception of a transaction a person rejected (inside their commit)."""
    return _close_all(
        _open_of([transaction_id]),
        actor=actor,
        reason=reason,
        status=BusinessExceptionStatusChoices.REJECTED,
        kind=ExceptionActivityKindChoices.REJECTED,
    )


def _user(user_id: int | None):
    if user_id is None:
        return None
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(pk=user_id).first()


# --- Working an exception (people) ------------------------------------------------------------


def _require(actor, permission: str = WORK_PERMISSION) -> None:
    if actor is None or not actor.has_perm(permission):
        raise PermissionDenied()


def _require_action(item: BusinessException, action: str) -> None:
    if action not in item.code.allowed_actions:
        raise HubError(
            "ACTION_NOT_ALLOWED",
            f"{ExceptionActionChoices(action).label} is not allowed for {item.code_id}.",
        )


def _locked(exception_id: int) -> BusinessException:
    return BusinessException.objects.select_for_update().select_related("code").get(pk=exception_id)


@transaction.atomic
def exception_assign(*, exception_id: int, assignee, actor) -> BusinessException:
    """Assign to someone (or to oneself: claim). Moves an open item to in progress."""
    item = exception_open_for(
        exception_id=exception_id, actor=actor, action=ExceptionActionChoices.ASSIGN
    )
    if assignee is not None and not assignee.has_perm(WORK_PERMISSION):
        raise HubError("ASSIGNEE_NOT_ALLOWED", f"{assignee} cannot work exceptions.")
    item.assignee = assignee
    item.status = (
        BusinessExceptionStatusChoices.IN_PROGRESS
        if assignee is not None
        else BusinessExceptionStatusChoices.OPEN
    )
    with acting_as(actor):
        item.save(update_fields=["assignee", "status"])
    ExceptionActivity.objects.create(
        exception=item,
        kind=ExceptionActivityKindChoices.ASSIGNED,
        actor=actor,
        message=f"Assigned to {assignee}." if assignee else "Unassigned.",
        data={"assignee_id": assignee.pk if assignee else None},
    )
    return item


@transaction.atomic
def exception_comment(*, exception_id: int, actor, text: str) -> ExceptionActivity:
    _require(actor)
    item = _locked(exception_id)
    _require_action(item, ExceptionActionChoices.COMMENT)
    text = text.strip()
    if not text:
        raise HubError("COMMENT_EMPTY", "A comment needs some text.")
    return ExceptionActivity.objects.create(
        exception=item, kind=ExceptionActivityKindChoices.COMMENTED, actor=actor, message=text
    )


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise HubError("REASON_REQUIRED", "Say why, so the next person understands.")
    return reason


def exception_open_for(*, exception_id: int, actor, action: str) -> BusinessException:
    """The exception, locked, after checking the actor may work exceptions, its code allows
    ``action`` and it is still open (inside the caller's commit)."""
    _require(actor)
    item = _locked(exception_id)
    _require_action(item, action)
    if not item.is_open:
        raise HubError("EXCEPTION_CLOSED", "This exception is already closed.")
    return item


def _close(*, exception_id: int, actor, reason: str, status: str, action: str, kind: str):
    item = exception_open_for(exception_id=exception_id, actor=actor, action=action)
    _close_all([item], actor=actor, reason=_reason(reason), status=status, kind=kind)
    return item


@transaction.atomic
def exception_hold(*, exception_id: int, actor, reason: str) -> BusinessException:
    """Park an open exception on purpose (a supplier is being called, a credit is coming): it
    stays in the queues, marked on hold, raises no SLA alerts and is not replayed until a
    person releases it."""
    item = exception_open_for(
        exception_id=exception_id, actor=actor, action=ExceptionActionChoices.HOLD
    )
    reason = _reason(reason)
    if item.is_held:
        raise HubError("ALREADY_ON_HOLD", "This exception is already on hold.")
    item.held_at = timezone.now()
    item.hold_reason = reason[:300]
    with acting_as(actor):
        item.save(update_fields=["held_at", "hold_reason"])
    ExceptionActivity.objects.create(
        exception=item, kind=ExceptionActivityKindChoices.HELD, actor=actor, message=reason
    )
    return item


@transaction.atomic
def exception_release(*, exception_id: int, actor, reason: str = "") -> BusinessException:
    """Take an exception off hold: SLA alerts and replays apply to it again."""
    item = exception_open_for(
        exception_id=exception_id, actor=actor, action=ExceptionActionChoices.HOLD
    )
    if not item.is_held:
        raise HubError("NOT_ON_HOLD", "This exception is not on hold.")
    item.held_at = None
    item.hold_reason = ""
    with acting_as(actor):
        item.save(update_fields=["held_at", "hold_reason"])
    ExceptionActivity.objects.create(
        exception=item,
        kind=ExceptionActivityKindChoices.RELEASED,
        actor=actor,
        message=reason.strip() or "Hold released.",
    )
    return item


@transaction.atomic
def exception_reject_alone(*, exception_id: int, actor, reason: str) -> BusinessException:
    """Close a finding that has no transaction as rejected (see pipeline's exception_reject)."""
    return _close(
        exception_id=exception_id,
        actor=actor,
        reason=reason,
        status=BusinessExceptionStatusChoices.REJECTED,
        action=ExceptionActionChoices.REJECT,
        kind=ExceptionActivityKindChoices.REJECTED,
    )


@transaction.atomic
def exception_resolve(*, exception_id: int, actor, reason: str) -> BusinessException:
    return _close(
        exception_id=exception_id,
        actor=actor,
        reason=reason,
        status=BusinessExceptionStatusChoices.RESOLVED,
        action=ExceptionActionChoices.RESOLVE,
        kind=ExceptionActivityKindChoices.RESOLVED,
    )


@transaction.atomic
def exception_ignore(*, exception_id: int, actor, reason: str) -> BusinessException:
    return _close(
        exception_id=exception_id,
        actor=actor,
        reason=reason,
        status=BusinessExceptionStatusChoices.IGNORED,
        action=ExceptionActionChoices.IGNORE,
        kind=ExceptionActivityKindChoices.IGNORED,
    )


# --- The catalogue ------------------------------------------------------------------------------


@transaction.atomic
def exception_catalogue_sync() -> tuple[int, int]:
    """Create missing teams and codes from the seed catalogue; never overwrite edits.

    Returns (teams created, codes created).
    """
    teams_created = 0
    for seed in TEAMS:
        _, created = Team.objects.get_or_create(
            slug=seed.slug, defaults={"name": seed.name, "email": seed.email}
        )
        teams_created += created
    teams = {team.slug: team for team in Team.objects.all()}
    codes_created = 0
    for seed in CODES:
        _, created = ExceptionCode.objects.get_or_create(
            code=seed.code,
            defaults={
                "category": seed.category,
                "title": seed.title,
                "meaning": seed.meaning,
                "owning_team": teams[seed.team],
                "severity": seed.severity,
                "sla_minutes": seed.sla_minutes,
                "allowed_actions": list(seed.actions),
            },
        )
        codes_created += created
    return teams_created, codes_created
