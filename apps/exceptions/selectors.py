"""Exception queries for screens."""

from datetime import timedelta

from django.db.models import Count, Min, Q, QuerySet

from apps.exceptions.choices import OPEN_STATUSES
from apps.exceptions.models import BusinessException, ExceptionActivity


def exception_list() -> QuerySet[BusinessException]:
    return BusinessException.objects.select_related("code", "team", "assignee").order_by(
        "-opened_at", "-id"
    )


def exception_get(*, exception_id: int) -> BusinessException:
    return BusinessException.objects.select_related(
        "code", "team", "assignee", "transaction", "transaction__connector"
    ).get(pk=exception_id)


def exception_activities(*, exception_id: int) -> QuerySet[ExceptionActivity]:
    return ExceptionActivity.objects.filter(exception_id=exception_id).select_related("actor")


def open_exceptions_by_team() -> list[dict]:
    return list(
        BusinessException.objects.filter(status__in=OPEN_STATUSES)
        .values("team__name", "team__slug")
        .annotate(count=Count("id"))
        .order_by("-count")
    )


def exception_groups(queryset: QuerySet[BusinessException], *, limit: int = 200) -> list[dict]:
    """Open exceptions with the same code and the same missing key, one row per root cause,
    largest first ("214 invoices blocked: supplier ACME-77 unknown"): one fix for all."""
    rows = (
        queryset.filter(status__in=OPEN_STATUSES)
        .exclude(root_cause_key="")
        .values("code_id", "code__title", "team__name", "root_cause_key")
        .annotate(count=Count("id"), oldest=Min("opened_at"), due=Min("due_at"))
        .order_by("-count", "oldest")[:limit]
    )
    groups = [{**row, **root_cause_parts(row["root_cause_key"])} for row in rows]
    from apps.masterdata.models import ExternalSystem

    systems = dict(
        ExternalSystem.objects.filter(
            code__in={g["system"] for g in groups if g["mapping_fix"]}
        ).values_list("code", "pk")
    )
    for group in groups:
        group["external_system_id"] = systems.get(group.get("system"))
    return groups


def root_cause_parts(key: str) -> dict:
    """What a root-cause key names: ``supplier:PROCUREMENT:SUP-061`` is an external code with no
    mapping; ``supplier:ERP:->SUP-10001`` a record with no code in that system; other keys
    (``po:PO-1``, ``invoice:...``) name a business document."""
    entity, _, rest = key.partition(":")
    system, _, code = rest.partition(":")
    from apps.masterdata.entities import ENTITY_TYPES

    if entity in ENTITY_TYPES and system and code:
        outbound = code.startswith("->")
        return {
            "entity_type": entity,
            "entity_label": ENTITY_TYPES[entity].label,
            "system": system,
            "external_code": "" if outbound else code,
            "record_code": code[2:] if outbound else "",
            "mapping_fix": True,
        }
    return {"mapping_fix": False}


AGE_BUCKETS = (  # (key, label, upper age)
    ("age_hour", "under 1 hour", timedelta(hours=1)),
    ("age_day", "1 to 24 hours", timedelta(days=1)),
    ("age_3days", "1 to 3 days", timedelta(days=3)),
    ("age_older", "over 3 days", None),
)


def exception_workload(*, user, now) -> dict:
    """A person's start page: their queue, and their teams' open exceptions by code, age and
    SLA state, with the latest activity (every team for people in none). A few aggregate
    queries, whatever the size of the queue."""
    from apps.alerts.models import TeamMembership

    team_ids = list(TeamMembership.objects.filter(user=user).values_list("team_id", flat=True))
    open_items = BusinessException.objects.filter(status__in=OPEN_STATUSES)
    if team_ids:
        open_items = open_items.filter(team_id__in=team_ids)
    cuts = {}
    lower = None
    for key, _, span in AGE_BUCKETS:
        condition = Q(opened_at__gt=now - span) if span is not None else Q()
        if lower is not None:
            condition &= Q(opened_at__lte=now - lower)
        cuts[key] = Count("id", filter=condition)
        lower = span
    totals = open_items.aggregate(
        total=Count("id"),
        breached=Count("id", filter=Q(due_at__lte=now)),
        at_risk=Count("id", filter=Q(due_at__gt=now, sla__at_risk_at__lte=now)),
        **cuts,
    )
    return {
        "mine": list(
            exception_list()
            .filter(status__in=OPEN_STATUSES, assignee=user)
            .order_by("due_at", "id")[:10]
        ),
        "by_code": list(
            open_items.values("code_id", "code__title")
            .annotate(count=Count("id"), breached=Count("id", filter=Q(due_at__lte=now)))
            .order_by("-count")[:12]
        ),
        "ages": [(label, totals[key]) for key, label, _ in AGE_BUCKETS],
        "total": totals["total"],
        "breached": totals["breached"],
        "at_risk": totals["at_risk"],
        "on_track": totals["total"] - totals["breached"] - totals["at_risk"],
        "teams": team_ids,
        "activity": list(
            ExceptionActivity.objects.filter(
                **({"exception__team_id__in": team_ids} if team_ids else {})
            )
            .select_related("actor", "exception")
            .order_by("-id")[:10]
        ),
    }


def open_count_for_root_cause(key: str) -> int:
    """How many open exceptions wait on one root cause (uses exception_open_root_cause_idx)."""
    if not key:
        return 0
    return BusinessException.objects.filter(root_cause_key=key, status__in=OPEN_STATUSES).count()


# Keys of ``details`` that may quote a payload (a target's own words about a refused posting):
# shown only to people who may see payloads.
PAYLOAD_DETAILS = frozenset({"target_message"})


def exception_details_for(*, details: dict, user) -> dict:
    """An exception's details as ``user`` may see them."""
    if user is not None and user.has_perm("accounts.view_payload"):
        return details
    return {key: value for key, value in (details or {}).items() if key not in PAYLOAD_DETAILS}
