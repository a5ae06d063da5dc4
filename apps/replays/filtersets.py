"""Filters of the bulk replay screens: the job history and a job's outcome table."""

import django_filters

from apps.replays.choices import (
    ReplayJobItemOutcomeChoices,
    ReplayJobKindChoices,
    ReplayJobStatusChoices,
)
from apps.replays.models import ReplayJob, ReplayJobItem


class ReplayJobFilterSet(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=ReplayJobKindChoices.choices, empty_label="Any")
    status = django_filters.ChoiceFilter(choices=ReplayJobStatusChoices.choices, empty_label="Any")

    class Meta:
        model = ReplayJob
        fields = ["kind", "status"]


class ReplayJobItemFilterSet(django_filters.FilterSet):
    outcome = django_filters.ChoiceFilter(
        choices=ReplayJobItemOutcomeChoices.choices, empty_label="Any outcome"
    )

    class Meta:
        model = ReplayJobItem
        fields = ["outcome"]
