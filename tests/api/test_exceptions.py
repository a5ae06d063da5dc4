"""Business exceptions through the API: filters, the detail with activity, replay."""

import datetime

import pytest

from apps.exceptions.models import BusinessException
from apps.exceptions.services import ExceptionSpec, exception_comment, exceptions_open
from apps.pipeline.choices import TransactionEventKindChoices as Kind
from apps.pipeline.models import TransactionEvent, WorkItem
from tests.api.conftest import API

pytestmark = pytest.mark.django_db

LIST = f"{API}/exceptions/"


@pytest.fixture
def api(client, viewer):
    client.force_login(viewer)
    return client


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


@pytest.fixture
def queue(failed_exception, steward):
    """Three exceptions: SCHEMA_INVALID (integration), a SUPPLIER_UNKNOWN root cause assigned
    to the steward (master data), and a resolved PRICE_VARIANCE (accounts payable)."""
    supplier, variance = exceptions_open(
        [
            ExceptionSpec(
                code="SUPPLIER_UNKNOWN",
                summary="Supplier ACME-77 unknown",
                correlation_id="corr-77",
                root_cause_key="supplier:ERP:ACME-77",
            ),
            ExceptionSpec(code="PRICE_VARIANCE", summary="Price", root_cause_key="inv:9"),
        ]
    )
    BusinessException.objects.filter(pk=supplier).update(
        assignee=steward, opened_at=datetime.datetime(2026, 1, 2, tzinfo=datetime.UTC)
    )
    BusinessException.objects.filter(pk=variance).update(status="resolved")
    return {"schema": failed_exception.pk, "supplier": supplier, "variance": variance}


def test_list_filters_by_team_code_status_assignee_root_cause_correlation_and_time(api, queue):
    assert ids(api.get(LIST, {"team": "master_data"})) == [queue["supplier"]]
    assert ids(api.get(LIST, {"code": "SCHEMA_INVALID"})) == [queue["schema"]]
    assert ids(api.get(LIST, {"status": "resolved"})) == [queue["variance"]]
    assert ids(api.get(LIST, {"assignee": "erin"})) == [queue["supplier"]]
    assert ids(api.get(LIST, {"root_cause_key": "supplier:ERP:ACME-77"})) == [queue["supplier"]]
    assert ids(api.get(LIST, {"correlation_id": "corr-77"})) == [queue["supplier"]]
    assert ids(api.get(LIST, {"opened_before": "2026-06-01T00:00:00Z"})) == [queue["supplier"]]
    assert set(ids(api.get(LIST, {"opened_after": "2026-06-01T00:00:00Z"}))) == {
        queue["schema"],
        queue["variance"],
    }
    # Without a status filter every status is listed, newest (last opened) first.
    assert ids(api.get(LIST)) == [queue["variance"], queue["supplier"], queue["schema"]]


def test_list_rejects_an_unknown_team_or_code(api, queue):
    response = api.get(LIST, {"team": "nobody", "code": "NO_SUCH_CODE"})

    assert response.status_code == 400
    assert set(response.json()["error"]["details"]["fields"]) == {"team", "code"}


def test_list_query_count_does_not_grow_with_page_size(
    token_client, viewer, make_failed, django_assert_max_num_queries
):
    for _ in range(12):
        make_failed()
    client = token_client(viewer, "read")
    client.get(LIST)

    for size in (2, 12):
        with django_assert_max_num_queries(6):
            response = client.get(LIST, {"page_size": size})
        assert len(response.json()["results"]) == size


def test_detail_has_the_code_its_activity_and_the_transaction(api, failed_exception, steward):
    exception_comment(exception_id=failed_exception.pk, actor=steward, text="Looking at it")

    body = api.get(f"{LIST}{failed_exception.pk}/").json()

    assert body["code"] == "SCHEMA_INVALID"
    assert body["team"] == "integration"
    assert body["transaction"] == failed_exception.transaction_id
    assert "replay" in body["allowed_actions"]
    assert [(a["kind"], a["actor"]) for a in body["activity"]] == [
        ("opened", None),
        ("commented", "erin"),
    ]


def test_replay_queues_the_transaction_and_notes_it_on_the_exception(
    token_client, ap_analyst, failed_exception
):
    response = token_client(ap_analyst, "read", "replay").post(
        f"{LIST}{failed_exception.pk}/replay/"
    )

    assert response.status_code == 202
    assert response.json()["transaction"] == failed_exception.transaction_id
    assert WorkItem.objects.filter(transaction_id=failed_exception.transaction_id).exists()
    assert TransactionEvent.objects.filter(
        transaction_id=failed_exception.transaction_id, kind=Kind.REPLAYED, actor=ap_analyst
    ).exists()
    kinds = list(failed_exception.activities.values_list("kind", flat=True))
    assert kinds == ["opened", "replay_requested"]


def test_replay_of_a_closed_exception_is_a_409(token_client, engineer, failed_exception):
    BusinessException.objects.filter(pk=failed_exception.pk).update(status="resolved")

    response = token_client(engineer, "read", "replay").post(f"{LIST}{failed_exception.pk}/replay/")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "EXCEPTION_CLOSED"


def test_replay_of_a_missing_exception_is_a_404(token_client, engineer):
    response = token_client(engineer, "read", "replay").post(f"{LIST}987654321/replay/")

    assert response.status_code == 404
