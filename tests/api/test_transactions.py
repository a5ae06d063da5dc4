"""Transactions through the API: filters, cursor pages, the detail without payloads, replay,
and lineage by correlation id."""

import datetime

import pytest
from django.utils import timezone

from apps.connectors.models import Connector
from apps.pipeline.choices import TransactionEventKindChoices as Kind
from apps.pipeline.choices import WorkStageChoices as Stage
from apps.pipeline.models import Transaction, TransactionEvent, WorkItem
from apps.pipeline.services import work_drain
from tests.api.conftest import API
from tests.conftest import make_webhook
from tests.pipeline.builders import receive_json

pytestmark = pytest.mark.django_db

LIST = f"{API}/transactions/"


@pytest.fixture
def api(client, viewer):
    client.force_login(viewer)
    return client


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_list_filters_by_key_status_direction_connector_type_and_correlation(
    api, connector, failed_tx
):
    good = receive_json(connector, {"id": "REQ-5", "po_number": "PO-123"}, key="good")
    work_drain(stage=Stage.PROCESS)
    other = make_webhook(slug="other", document_type="p2p.invoice")
    third = receive_json(other, {"id": "X-1"}, key="x1")

    assert ids(api.get(LIST, {"q": "PO-123"})) == [good.transaction_id]
    assert ids(api.get(LIST, {"q": good.correlation_id})) == [good.transaction_id]
    assert ids(api.get(LIST, {"status": "exception"})) == [failed_tx.pk]
    assert ids(api.get(LIST, {"connector": other.pk})) == [third.transaction_id]
    assert ids(api.get(LIST, {"document_type": "p2p.invoice"})) == [third.transaction_id]
    assert ids(api.get(LIST, {"correlation_id": failed_tx.correlation_id})) == [failed_tx.pk]
    assert ids(api.get(LIST, {"direction": "out"})) == []
    assert set(ids(api.get(LIST, {"direction": "in"}))) == {
        failed_tx.pk,
        good.transaction_id,
        third.transaction_id,
    }


def test_list_filters_by_time_window(api, connector):
    rows = [receive_json(connector, {"id": f"T-{n}"}).transaction_id for n in range(3)]
    base = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    for n, pk in enumerate(rows):
        Transaction.objects.filter(pk=pk).update(received_at=base + datetime.timedelta(hours=n))

    window = {"received_after": "2026-01-01T01:00:00Z", "received_before": "2026-01-01T02:00:00Z"}

    assert ids(api.get(LIST, window)) == [rows[1]]
    assert ids(api.get(LIST, {"received_after": "2026-01-01T01:00:00+00:00"})) == rows[:0:-1]


def test_list_rejects_invalid_filters_listing_the_fields(api):
    response = api.get(LIST, {"status": "nonsense", "received_after": "yesterday"})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert set(error["details"]["fields"]) == {"status", "received_after"}


def test_cursor_pages_cover_every_row_once_newest_first(api, connector):
    rows = [receive_json(connector, {"id": f"P-{n}"}).transaction_id for n in range(7)]
    expected = rows[::-1]

    seen, url, pages = [], f"{LIST}?page_size=3", 0
    while url:
        page = api.get(url).json()
        assert len(page["results"]) <= 3
        seen += [row["id"] for row in page["results"]]
        url, pages = page["next"], pages + 1

    assert seen == expected
    assert pages == 3


def test_a_tampered_cursor_is_a_400(api):
    for cursor in ("nonsense", "cD0yMDI2LWJhZA==", "cD1hYmM="):  # junk, p=2026-bad, p=abc
        response = api.get(LIST, {"cursor": cursor})
        assert response.status_code == 400, cursor
        assert response.json()["error"]["details"]["fields"] == {"cursor": ["Invalid cursor."]}


def test_list_query_count_does_not_grow_with_page_size(
    token_client, viewer, connector, django_assert_max_num_queries
):
    for n in range(60):
        receive_json(connector, {"id": f"D-{n}"})
    client = token_client(viewer, "read")
    client.get(LIST)  # notes the token's first use (one UPDATE) outside the measure

    for size in (5, 50):
        with django_assert_max_num_queries(6):
            response = client.get(LIST, {"page_size": size})
        assert len(response.json()["results"]) == size


def test_detail_has_events_keys_and_exceptions_but_never_the_payload(api, failed_tx):
    response = api.get(f"{LIST}{failed_tx.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert [event["kind"] for event in body["events"]] == ["received", "failed"]
    assert body["events"][1]["code"] == "SCHEMA_INVALID"
    assert [e["code"] for e in body["exceptions"]] == ["SCHEMA_INVALID"]
    assert body["canonical"] is None
    assert body["can_replay"] is False  # a viewer
    assert "raw" not in body
    assert b"Jane Roe" not in response.content


def test_detail_shows_the_canonical_document_only_to_who_may_see_payloads(
    client, viewer, engineer, connector
):
    received = receive_json(connector, {"id": "C-1", "po_number": "PO-9"})
    work_drain(stage=Stage.PROCESS)
    url = f"{LIST}{received.transaction_id}/"

    client.force_login(viewer)
    hidden = client.get(url).json()
    client.force_login(engineer)
    shown = client.get(url).json()

    assert hidden["canonical"] is None
    assert shown["canonical"] is not None
    assert {"kind": "po_number", "value": "PO-9"} in shown["keys"]
    assert "raw" not in shown


def test_detail_of_a_missing_transaction_is_404(api):
    response = api.get(f"{LIST}999999999/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_replay_queues_the_work_and_records_who(token_client, engineer, failed_tx):
    client = token_client(engineer, "read", "replay")

    response = client.post(f"{LIST}{failed_tx.pk}/replay/")

    assert response.status_code == 202
    assert response.json() == {
        "transaction": failed_tx.pk,
        "status": "received",
        "message": "Queued for replay.",
    }
    work = WorkItem.objects.get(transaction=failed_tx)
    assert (work.stage, work.actor) == (Stage.PROCESS, engineer)
    event = TransactionEvent.objects.get(transaction=failed_tx, kind=Kind.REPLAYED)
    assert event.actor == engineer
    assert client.get(f"{LIST}{failed_tx.pk}/").json()["events"][-1]["kind"] == "replayed"


def test_replaying_twice_is_a_409_and_queues_nothing_more(token_client, engineer, failed_tx):
    client = token_client(engineer, "read", "replay")
    client.post(f"{LIST}{failed_tx.pk}/replay/")
    count = Transaction.objects.count()

    again = client.post(f"{LIST}{failed_tx.pk}/replay/")

    assert again.status_code == 409
    assert again.json()["error"]["code"] == "REPLAY_NOT_ALLOWED"
    assert WorkItem.objects.filter(transaction=failed_tx).count() == 1
    assert TransactionEvent.objects.filter(kind=Kind.REPLAYED).count() == 1
    assert Transaction.objects.count() == count


def test_replay_refused_by_the_codes_allowed_actions_is_a_409(token_client, engineer, failed_tx):
    from apps.exceptions.models import ExceptionCode

    ExceptionCode.objects.filter(code="SCHEMA_INVALID").update(allowed_actions=["resolve"])

    response = token_client(engineer, "read", "replay").post(f"{LIST}{failed_tx.pk}/replay/")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "ACTION_NOT_ALLOWED"
    assert not WorkItem.objects.filter(transaction=failed_tx).exists()


def test_lineage_lists_the_flow_and_its_events_in_time_order(api, connector):
    first = receive_json(connector, {"id": "L-1"}, key="l1")
    tx = Transaction.objects.get(pk=first.transaction_id)
    second = Transaction.objects.create(
        connector=Connector.objects.get(pk=connector.pk),
        direction="out",
        format="json",
        document_type=tx.document_type,
        status="queued",
        content_sha256="0" * 64,
        raw=b"{}",
        raw_size=2,
        correlation_id=tx.correlation_id,
        parent=tx,
        received_at=tx.received_at + datetime.timedelta(seconds=1),
        updated_at=timezone.now(),
    )
    receive_json(connector, {"id": "L-2"}, key="unrelated")

    body = api.get(f"{API}/lineage/{tx.correlation_id}/").json()

    assert [row["id"] for row in body["transactions"]] == [tx.pk, second.pk]
    assert [(e["transaction"], e["kind"]) for e in body["events"]] == [(tx.pk, "received")]
    assert body["truncated"] is False


def test_lineage_of_an_unknown_correlation_id_is_404(api):
    response = api.get(f"{API}/lineage/no-such-flow/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    "value",
    [
        "0150-06-24T20:37:28-19:36",  # found by schemathesis: PostgreSQL refuses the offset
        "0001-01-01T00:00:00+05:00",  # before year 1 in UTC
        "yesterday",
    ],
)
def test_a_time_filter_postgresql_cannot_take_is_a_400(api, value):
    response = api.get(LIST, {"received_before": value})

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]["fields"]) == ["received_before"]
