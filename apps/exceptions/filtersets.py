"""Filters of the exception work queue."""

import django_filters

from apps.exceptions.choices import BusinessExceptionStatusChoices
from apps.exceptions.models import BusinessException, ExceptionCode, Team


class BusinessExceptionFilterSet(django_filters.FilterSet):
    team = django_filters.ModelChoiceFilter(
        queryset=Team.objects.order_by("name"), field_name="team", to_field_name="slug"
    )
    code = django_filters.ModelChoiceFilter(queryset=ExceptionCode.objects.order_by("code"))
    status = django_filters.ChoiceFilter(choices=BusinessExceptionStatusChoices.choices)

    class Meta:
        model = BusinessException
        fields = ["team", "code", "status"]
