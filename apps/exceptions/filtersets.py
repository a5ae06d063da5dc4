"""Filters of the exception work queue, shared by the console and the status API."""

import django_filters
from django.contrib.auth import get_user_model

from apps.core.filters import IsoDateTimeFilter
from apps.exceptions.choices import BusinessExceptionStatusChoices
from apps.exceptions.models import BusinessException, ExceptionCode, Team


class BusinessExceptionFilterSet(django_filters.FilterSet):
    team = django_filters.ModelChoiceFilter(
        queryset=Team.objects.order_by("name"), field_name="team", to_field_name="slug"
    )
    code = django_filters.ModelChoiceFilter(queryset=ExceptionCode.objects.order_by("code"))
    status = django_filters.ChoiceFilter(choices=BusinessExceptionStatusChoices.choices)
    assignee = django_filters.ModelChoiceFilter(
        queryset=get_user_model().objects.all(),
        to_field_name="username",
        help_text="User name of the assignee.",
    )
    opened_after = IsoDateTimeFilter(
        field_name="opened_at", lookup_expr="gte", help_text="Opened at or after (ISO 8601)."
    )
    opened_before = IsoDateTimeFilter(
        field_name="opened_at", lookup_expr="lt", help_text="Opened before (ISO 8601)."
    )
    root_cause_key = django_filters.CharFilter(help_text="e.g. supplier:ERP:ACME-77")
    correlation_id = django_filters.CharFilter()

    class Meta:
        model = BusinessException
        fields = [
            "team",
            "code",
            "status",
            "assignee",
            "opened_after",
            "opened_before",
            "root_cause_key",
            "correlation_id",
        ]
