"""One error format for every status, the request id on every answer, and throttling."""

import pytest
from django.test import Client

from apps.pipeline.api import views as pipeline_views
from tests.api.conftest import API, bearer

pytestmark = pytest.mark.django_db

REQUEST_ID = "client-req-0001"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "details", "request_id"}
    assert error["code"] == code
    assert error["message"]
    assert error["request_id"] == response["X-Request-ID"]
    return error


@pytest.fixture
def engineer_client(token_client, engineer):
    return token_client(engineer, "read", "replay")


def test_every_error_status_has_the_one_format(engineer_client, client, viewer, failed_tx):
    client.force_login(viewer)
    tx = f"{API}/transactions/{failed_tx.pk}/"

    fields = assert_error(
        engineer_client.get(f"{API}/transactions/", {"status": "bad"}), 400, "VALIDATION_ERROR"
    )["details"]["fields"]
    assert_error(Client().get(tx), 401, "NOT_AUTHENTICATED")
    assert_error(Client().get(tx, headers=bearer("hc_nope")), 401, "TOKEN_INVALID")
    assert_error(client.post(f"{tx}replay/"), 403, "PERMISSION_DENIED")
    assert_error(engineer_client.get(f"{API}/transactions/1234567890/"), 404, "NOT_FOUND")
    assert_error(engineer_client.get(f"{API}/no-such-thing/"), 404, "NOT_FOUND")
    assert_error(engineer_client.delete(tx), 405, "METHOD_NOT_ALLOWED")
    engineer_client.post(f"{tx}replay/")
    assert_error(engineer_client.post(f"{tx}replay/"), 409, "REPLAY_NOT_ALLOWED")

    assert fields == {"status": ["Select a valid choice. bad is not one of the available choices."]}


def test_the_callers_request_id_is_echoed_in_header_and_body(engineer_client):
    response = engineer_client.get(f"{API}/transactions/999/", headers={"X-Request-ID": REQUEST_ID})

    assert response["X-Request-ID"] == REQUEST_ID
    assert assert_error(response, 404, "NOT_FOUND")["request_id"] == REQUEST_ID


def test_an_unexpected_error_is_a_500_in_the_same_format_and_logged(
    engineer_client, monkeypatch, caplog
):
    def broken(**kwargs):
        raise RuntimeError("database on fire (internal detail)")

    monkeypatch.setattr(pipeline_views, "transaction_list", broken)

    response = engineer_client.get(f"{API}/transactions/")

    error = assert_error(response, 500, "SERVER_ERROR")
    assert "on fire" not in error["message"]
    assert "database on fire" in caplog.text


def test_reads_past_the_rate_are_429_with_retry_after(settings, token_client, viewer, engineer):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_read": "3/min", "api_replay": "1/min"},
    }
    client = token_client(viewer, "read")
    for _ in range(3):
        assert client.get(f"{API}/transactions/").status_code == 200

    response = client.get(f"{API}/transactions/")

    error = assert_error(response, 429, "THROTTLED")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert error["details"]["retry_after"] == int(response["Retry-After"])
    # Each token has its own allowance.
    assert token_client(engineer, "read").get(f"{API}/transactions/").status_code == 200


def test_replays_have_their_own_lower_rate(settings, token_client, engineer, make_failed):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_read": "100/min", "api_replay": "1/min"},
    }
    first, second = make_failed(), make_failed()
    client = token_client(engineer, "read", "replay")

    assert client.post(f"{API}/transactions/{first.pk}/replay/").status_code == 202
    throttled = client.post(f"{API}/transactions/{second.pk}/replay/")

    assert_error(throttled, 429, "THROTTLED")
    assert client.get(f"{API}/transactions/").status_code == 200  # reads are unaffected
