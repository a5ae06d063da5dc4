"""Filters of the exception work queue, shared by the console and the status API."""

from datetime import timedelta

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from apps.core.filters import IsoDateTimeFilter
from apps.exceptions.choices import OPEN_STATUSES, BusinessExceptionStatusChoices
from apps.exceptions.models import BusinessException, ExceptionCode, Team

SLA_STATES = [
    ("on_track", "On track"),
    ("at_risk", "At risk"),
    ("breached", "Breached"),
    ("on_hold", "On hold"),
]
# "active" is every exception someone still has to work: open or in progress (assigned).
ACTIVE = "active"
STATUS_CHOICES = [(ACTIVE, "Open or in progress"), *BusinessExceptionStatusChoices.choices]


class BusinessExceptionFilterSet(django_filters.FilterSet):
    team = django_filters.ModelChoiceFilter(
        queryset=Team.objects.order_by("name"), field_name="team", to_field_name="slug"
    )
    code = django_filters.ModelChoiceFilter(queryset=ExceptionCode.objects.order_by("code"))
    status = django_filters.ChoiceFilter(
        choices=STATUS_CHOICES,
        method="filter_status",
        help_text="A status, or active: open or in progress.",
    )
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
    supplier = django_filters.CharFilter(help_text="Supplier code, e.g. SUP-10001.")
    facility = django_filters.CharFilter(help_text="Facility code, e.g. HOSP-NORTH.")
    document = django_filters.CharFilter(help_text="Business document, e.g. an invoice number.")
    amount_min = django_filters.NumberFilter(field_name="amount", lookup_expr="gte")
    amount_max = django_filters.NumberFilter(field_name="amount", lookup_expr="lte")
    older_than_hours = django_filters.NumberFilter(
        method="filter_age", help_text="Opened more than this many hours ago."
    )
    sla = django_filters.ChoiceFilter(
        choices=SLA_STATES, method="filter_sla", help_text="Where the exception stands on its SLA."
    )

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
            "supplier",
            "facility",
            "document",
            "amount_min",
            "amount_max",
            "older_than_hours",
            "sla",
        ]

    def filter_status(self, queryset, name, value):
        if value == ACTIVE:
            return queryset.filter(status__in=OPEN_STATUSES)
        return queryset.filter(status=value)

    def filter_age(self, queryset, name, value):
        if value is None or value < 0 or value > 24 * 3650:
            return queryset
        return queryset.filter(opened_at__lt=timezone.now() - timedelta(hours=float(value)))

    def filter_sla(self, queryset, name, value):
        now = timezone.now()
        at_risk = Q(sla__at_risk_at__lte=now)
        if value == "on_hold":  # parked by a person: no SLA alerts until released
            return queryset.filter(held_at__isnull=False)
        queryset = queryset.filter(held_at__isnull=True)
        if value == "breached":
            return queryset.filter(due_at__lte=now)
        if value == "at_risk":
            return queryset.filter(at_risk, due_at__gt=now)
        if value == "on_track":
            return queryset.filter(due_at__gt=now).exclude(at_risk)
        return queryset
