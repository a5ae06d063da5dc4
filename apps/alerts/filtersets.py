"""Filters of the alert history."""

import django_filters

from apps.alerts.choices import AlertKindChoices, AlertStatusChoices
from apps.alerts.models import Alert
from apps.exceptions.models import Team


class AlertFilterSet(django_filters.FilterSet):
    team = django_filters.ModelChoiceFilter(
        queryset=Team.objects.order_by("name"), field_name="team", to_field_name="slug"
    )
    kind = django_filters.ChoiceFilter(choices=AlertKindChoices.choices)
    status = django_filters.ChoiceFilter(choices=AlertStatusChoices.choices)
    exception = django_filters.NumberFilter(field_name="exception_id")

    class Meta:
        model = Alert
        fields = ["team", "kind", "status", "exception"]
