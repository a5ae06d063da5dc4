"""Exception queries for screens."""

from django.db.models import Count, QuerySet

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
