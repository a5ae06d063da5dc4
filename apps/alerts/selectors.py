"""SLA and alert queries for screens: an exception's SLA state, and the alert history."""

from datetime import datetime

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from apps.alerts.choices import SlaStateChoices
from apps.alerts.models import Alert
from apps.alerts.services import DEFAULT_AT_RISK_PERCENT
from apps.core.errors import PermissionDenied
from apps.exceptions.choices import OPEN_STATUSES
from apps.exceptions.models import BusinessException, Team

# Every console role may look at exceptions; that is what opens the alert history.
CONSOLE_PERMISSION = "exceptions.view_businessexception"
# Administrators (the admin role holds every permission) see every team's alerts.
ALL_TEAMS_PERMISSION = "alerts.view_alert"


def _sla_row(exception: BusinessException):
    try:
        sla = exception.sla
    except BusinessException.sla.RelatedObjectDoesNotExist:
        return None
    return sla if sla.due_at == exception.due_at else None


def sla_at_risk_at(exception: BusinessException) -> datetime:
    """When the exception is (or was) at risk. The scan's business-time answer once it has
    run; until then (a minute at most) the default share of opened..due, as in SQL below."""
    sla = _sla_row(exception)
    if sla is not None:
        return sla.at_risk_at
    return exception.opened_at + (exception.due_at - exception.opened_at) * (
        DEFAULT_AT_RISK_PERCENT / 100
    )


def sla_state(exception: BusinessException, now: datetime) -> str:
    """on_track / at_risk / breached. A closed exception is judged when it was closed."""
    moment = now if exception.is_open else (exception.resolved_at or now)
    if moment >= exception.due_at:
        return SlaStateChoices.BREACHED
    if moment >= sla_at_risk_at(exception):
        return SlaStateChoices.AT_RISK
    return SlaStateChoices.ON_TRACK


def annotate_sla_state(
    queryset: QuerySet[BusinessException], now: datetime
) -> QuerySet[BusinessException]:
    """Add ``sla_at_risk_at`` and ``sla_state`` (as ``sla_state`` computes them), in SQL, so
    lists can filter and sort by them. One LEFT JOIN to the scan's per-exception SLA row."""
    fallback = ExpressionWrapper(
        F("opened_at")
        + ExpressionWrapper(
            (F("due_at") - F("opened_at")) * Value(DEFAULT_AT_RISK_PERCENT / 100),
            output_field=DurationField(),
        ),
        output_field=DateTimeField(),
    )
    return queryset.annotate(
        sla_at_risk_at=Case(
            When(sla__due_at=F("due_at"), then=F("sla__at_risk_at")),
            default=fallback,
            output_field=DateTimeField(),
        ),
        sla_moment=Case(
            When(status__in=OPEN_STATUSES, then=Value(now)),
            default=Coalesce(F("resolved_at"), Value(now)),
            output_field=DateTimeField(),
        ),
    ).annotate(
        sla_state=Case(
            When(due_at__lte=F("sla_moment"), then=Value(SlaStateChoices.BREACHED.value)),
            When(sla_at_risk_at__lte=F("sla_moment"), then=Value(SlaStateChoices.AT_RISK.value)),
            default=Value(SlaStateChoices.ON_TRACK.value),
        )
    )


def alert_visible_teams(*, user) -> QuerySet[Team] | None:
    """The teams whose alerts ``user`` may see; None means every team."""
    if not user.has_perm(CONSOLE_PERMISSION):
        raise PermissionDenied()
    if user.has_perm(ALL_TEAMS_PERMISSION):
        return None
    return Team.objects.filter(memberships__user=user)


def alert_list(*, user) -> QuerySet[Alert]:
    """Alert history for the console: the user's teams' alerts (every team for admins)."""
    teams = alert_visible_teams(user=user)
    queryset = (
        Alert.objects.select_related("team", "exception")
        .annotate(member_count=Count("members"))
        .order_by("-id")
    )
    if teams is None:
        return queryset
    return queryset.filter(Q(team__in=teams))
