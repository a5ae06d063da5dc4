"""Filters of the transaction list, shared by the console (and later the API)."""

import django_filters

from apps.connectors.models import Connector
from apps.pipeline.choices import DirectionChoices, TransactionStatusChoices
from apps.pipeline.models import Transaction
from apps.pipeline.selectors import transaction_search_ids


class TransactionFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(label="Business key or id", method="filter_key")
    status = django_filters.ChoiceFilter(choices=TransactionStatusChoices.choices)
    direction = django_filters.ChoiceFilter(choices=DirectionChoices.choices)
    connector = django_filters.ModelChoiceFilter(
        queryset=Connector.objects.order_by("name"), field_name="connector"
    )

    class Meta:
        model = Transaction
        fields = ["q", "status", "direction", "connector"]

    def filter_key(self, queryset, name, value):
        return queryset.filter(id__in=transaction_search_ids(term=value))
