"""The connectors screen: throughput, error rate, queue depth and the last run per connector."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.connectors.choices import ConnectorRunKindChoices, ConnectorRunStatusChoices
from apps.connectors.models import ConnectorRun
from apps.pipeline.models import Transaction, WorkItem
from tests.conftest import make_webhook
from tests.pipeline.builders import receive_json

pytestmark = pytest.mark.django_db


def test_figures_per_connector(client, engineer, django_assert_max_num_queries):
    busy = make_webhook(slug="busy")
    quiet = make_webhook(slug="quiet")
    for n in range(4):
        receive_json(busy, {"id": f"B-{n}"})
    stopped = Transaction.objects.filter(connector=busy).order_by("id").first()
    Transaction.objects.filter(pk=stopped.pk).update(status="exception")
    WorkItem.objects.filter(transaction_id=stopped.pk).delete()
    old = receive_json(busy, {"id": "OLD"})
    Transaction.objects.filter(pk=old.transaction_id).update(
        received_at=timezone.now() - datetime.timedelta(hours=3)
    )
    ConnectorRun.objects.create(
        connector=quiet,
        kind=ConnectorRunKindChoices.PICKUP,
        status=ConnectorRunStatusChoices.SUCCEEDED,
        accepted=7,
    )
    client.force_login(engineer)

    with django_assert_max_num_queries(12):
        response = client.get(reverse("console:connector_list"))

    rows = {c.slug: c.figures for c in response.context["connectors"]}
    assert rows["busy"]["hour"] == 4
    assert rows["busy"]["day"] == 5
    assert rows["busy"]["error_rate"] == 20.0
    assert rows["busy"]["queued"] == 4  # five received, one stopped: four still to process
    assert rows["quiet"]["last_run"].accepted == 7
    assert b"(7 taken)" in response.content
