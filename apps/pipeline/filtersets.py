"""Filters of the transaction list, shared by the console and the status API."""

import django_filters

from apps.connectors.models import Connector
from apps.core.filters import IsoDateTimeFilter
from apps.pipeline.choices import DirectionChoices, TransactionStatusChoices
from apps.pipeline.models import Transaction
from apps.pipeline.selectors import transaction_id_window, transaction_search_ids


class TransactionFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label="Business key or id",
        method="filter_key",
        help_text="A business key (PO or invoice number...), correlation id, document id or "
        "transaction id.",
    )
    status = django_filters.ChoiceFilter(choices=TransactionStatusChoices.choices)
    direction = django_filters.ChoiceFilter(choices=DirectionChoices.choices)
    connector = django_filters.ModelChoiceFilter(
        queryset=Connector.objects.order_by("name"), field_name="connector"
    )
    document_type = django_filters.CharFilter(help_text="Exact document type, e.g. p2p.invoice.")
    correlation_id = django_filters.CharFilter(help_text="Every message of one flow.")
    received_after = IsoDateTimeFilter(
        field_name="received_at", lookup_expr="gte", help_text="Received at or after (ISO 8601)."
    )
    received_before = IsoDateTimeFilter(
        field_name="received_at", lookup_expr="lt", help_text="Received before (ISO 8601)."
    )

    class Meta:
        model = Transaction
        fields = [
            "q",
            "status",
            "direction",
            "connector",
            "document_type",
            "correlation_id",
            "received_after",
            "received_before",
        ]

    def filter_key(self, queryset, name, value):
        return queryset.filter(id__in=transaction_search_ids(term=value))

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        # A time window far back also bounds the id, which lists are ordered by (see
        # transaction_id_window); the received_at filters stay, so the rows are the same.
        window = transaction_id_window(
            received_after=self.form.cleaned_data.get("received_after"),
            received_before=self.form.cleaned_data.get("received_before"),
        )
        if window is not None:
            queryset = queryset.filter(id__range=window)
        return queryset
