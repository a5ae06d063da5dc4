"""The outbound REST transport against the real sandbox ERP, faults injected by its control API."""

import email.utils
import json
import time
import uuid

import pytest

from apps.connectors.models import Connector
from apps.connectors.transports import OutboundRequest, TransportError, transport_for
from apps.connectors.transports.rest import parse_retry_after
from apps.sandbox.models import SandboxPosting
from tests.conftest import free_port, make_rest_target, make_webhook

BODY = json.dumps({"document_id": "PO-1", "data": {"total": "12.50"}}).encode()


def _request(key: str, body: bytes = BODY) -> OutboundRequest:
    return OutboundRequest(
        body=body,
        idempotency_key=key,
        correlation_id="corr-rest-1",
        document_type="generic.document",
    )


def _key() -> str:
    return f"out:test:{uuid.uuid4().hex}"


@pytest.fixture
def erp_url(sandbox_url) -> str:
    return f"{sandbox_url}/targets/erp/documents"


def _fault(sandbox, **spec) -> None:
    response = sandbox.post("/faults", json={"target": "erp", "count": 1, **spec})
    assert response.status_code == 201, response.text


def _postings(sandbox) -> dict:
    return sandbox.get("/targets/erp/documents").json()


def _send_error(connector: Connector, request: OutboundRequest) -> TransportError:
    with pytest.raises(TransportError) as caught:
        transport_for(connector).send(request)
    return caught.value


def test_rest_first_send_is_created(sandbox, erp_url):
    target = make_rest_target(erp_url)
    key = _key()

    result = transport_for(target).send(_request(key))

    assert result.status == 201
    assert result.replayed is False
    posting = SandboxPosting.objects.get()
    assert result.reference == posting.reference
    assert posting.reference.startswith("ERP-")
    assert posting.idempotency_key == key
    assert posting.body == json.loads(BODY)
    assert result.duration_ms > 0


def test_rest_same_key_and_body_is_replayed(sandbox, erp_url):
    target = make_rest_target(erp_url)
    key = _key()
    first = transport_for(target).send(_request(key))

    again = transport_for(target).send(_request(key))

    assert again.status == 200
    assert again.replayed is True
    assert again.reference == first.reference
    assert _postings(sandbox) == {"target": "erp", "postings": 1, "replays_answered": 1}


def test_rest_same_key_different_body_is_rejected_permanently(sandbox, erp_url):
    target = make_rest_target(erp_url)
    key = _key()
    transport_for(target).send(_request(key))

    error = _send_error(target, _request(key, b'{"document_id": "PO-1", "data": {"total": "99"}}'))

    assert error.code == "DELIVERY_REJECTED"
    assert error.transient is False
    assert error.details["http_status"] == 422
    assert "Idempotency-Key already used" in error.details["target_message"]
    assert error.message == "The target rejected the message (HTTP 422)."
    assert SandboxPosting.objects.get().body == json.loads(BODY)


def test_rest_503_with_retry_after_is_transient_unavailable(sandbox, erp_url):
    target = make_rest_target(erp_url)
    _fault(sandbox, mode="status", status=503, retry_after=7)

    error = _send_error(target, _request(_key()))

    assert error.code == "TARGET_UNAVAILABLE"
    assert error.transient is True
    assert error.retry_after == 7.0
    assert error.details == {"http_status": 503, "target_message": "Injected 503."}
    assert error.message == "The target answered HTTP 503."
    assert SandboxPosting.objects.count() == 0


def test_rest_500_without_retry_after_is_transient_without_hint(sandbox, erp_url):
    target = make_rest_target(erp_url)
    _fault(sandbox, mode="status", status=500)

    error = _send_error(target, _request(_key()))

    assert (error.code, error.transient, error.retry_after) == ("TARGET_UNAVAILABLE", True, None)


def test_rest_429_is_transient_throttled(sandbox, erp_url):
    target = make_rest_target(erp_url)
    _fault(sandbox, mode="status", status=429, retry_after=3)

    error = _send_error(target, _request(_key()))

    assert error.code == "THROTTLED"
    assert error.transient is True
    assert error.retry_after == 3.0
    assert error.details == {"http_status": 429, "target_message": "Injected 429."}


@pytest.mark.parametrize("status", [401, 403])
def test_rest_refused_credentials_is_auth_failed(sandbox, erp_url, status):
    target = make_rest_target(erp_url)
    _fault(sandbox, mode="status", status=status)

    error = _send_error(target, _request(_key()))

    assert (error.code, error.transient) == ("AUTH_FAILED", False)
    assert error.details == {"http_status": status, "target_message": f"Injected {status}."}


def test_rest_business_rejection_is_permanent(sandbox, erp_url):
    target = make_rest_target(erp_url)
    _fault(sandbox, mode="reject")

    error = _send_error(target, _request(_key()))

    assert error.code == "DELIVERY_REJECTED"
    assert error.transient is False
    assert error.details["http_status"] == 422
    assert "failed validation" in error.details["target_message"]
    assert "failed validation" not in error.message  # the target's words stay in the details
    assert SandboxPosting.objects.count() == 0


def test_rest_timeout_is_transient_and_retry_is_answered_as_replay(sandbox, erp_url):
    target = make_rest_target(erp_url, timeout_seconds=0.5)
    _fault(sandbox, mode="timeout", latency_ms=2000)
    key = _key()

    started = time.monotonic()
    error = _send_error(target, _request(key))
    waited = time.monotonic() - started

    assert error.code == "TARGET_UNAVAILABLE"
    assert error.transient is True
    assert "did not answer in time" in error.message
    assert waited < 1.9
    # The target committed before it went quiet: the retry must not post twice.
    assert _postings(sandbox)["postings"] == 1
    retry = transport_for(target).send(_request(key))
    assert (retry.status, retry.replayed) == (200, True)
    assert SandboxPosting.objects.get().idempotency_key == key


def test_rest_lost_answer_is_transient_and_retry_is_replay(sandbox, erp_url):
    target = make_rest_target(erp_url)
    _fault(sandbox, mode="lose_answer")
    key = _key()

    error = _send_error(target, _request(key))
    retry = transport_for(target).send(_request(key))

    assert (error.code, error.transient) == ("TARGET_UNAVAILABLE", True)
    assert error.details["http_status"] == 502
    assert (retry.status, retry.replayed) == (200, True)
    assert SandboxPosting.objects.count() == 1


def test_rest_connection_refused_is_transient(db):
    target = make_rest_target(f"http://127.0.0.1:{free_port()}/targets/erp/documents")

    error = _send_error(target, _request(_key()))

    assert error.code == "TARGET_UNAVAILABLE"
    assert error.transient is True
    assert "ConnectError" in error.message


def test_rest_token_env_without_token_is_auth_failed(db, monkeypatch):
    monkeypatch.delenv("HUBCONSOLE_SECRET_TEST_ERP_TOKEN", raising=False)
    target = make_rest_target("http://127.0.0.1:9/documents")
    target.settings = {**target.settings, "token_env": "HUBCONSOLE_SECRET_TEST_ERP_TOKEN"}
    target.save()

    with pytest.raises(TransportError) as caught:
        transport_for(target)

    assert caught.value.code == "AUTH_FAILED"
    assert caught.value.transient is False
    assert "HUBCONSOLE_SECRET_TEST_ERP_TOKEN" in caught.value.message


def test_rest_token_env_with_token_sends_bearer(db, monkeypatch):
    monkeypatch.setenv("HUBCONSOLE_SECRET_TEST_ERP_TOKEN", "tok-123")
    target = make_rest_target("http://127.0.0.1:9/documents")
    target.settings = {
        **target.settings,
        "token_env": "HUBCONSOLE_SECRET_TEST_ERP_TOKEN",
        "headers": {"X-Tenant": "north"},
    }
    target.save()

    transport = transport_for(target)

    assert transport.headers == {"X-Tenant": "north", "Authorization": "Bearer tok-123"}


@pytest.mark.parametrize(
    "settings",
    [
        {"url": "ftp://erp.example.org/in"},
        {"url": "/relative"},
        {},
        {"url": "http://x/", "headers": {"X-N": 1}},
    ],
)
def test_rest_invalid_settings_are_rejected(db, settings):
    target = make_rest_target("http://127.0.0.1:9/documents")
    target.settings = settings
    target.save()

    with pytest.raises(TransportError) as caught:
        transport_for(target)

    assert caught.value.code == "DELIVERY_REJECTED"
    assert caught.value.transient is False


def test_rest_transport_for_inbound_connector_is_rejected(db):
    webhook = make_webhook()

    with pytest.raises(TransportError) as caught:
        transport_for(webhook)

    assert caught.value.code == "DELIVERY_REJECTED"


# --- Retry-After ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "seconds"), [("120", 120.0), (" 5 ", 5.0), ("0", 0.0)])
def test_parse_retry_after_seconds(value, seconds):
    assert parse_retry_after(value) == seconds


def test_parse_retry_after_http_date_in_future():
    when = email.utils.formatdate(time.time() + 90, usegmt=True)

    assert 85 <= parse_retry_after(when) <= 90


def test_parse_retry_after_http_date_in_past_is_zero():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5"])
def test_parse_retry_after_unusable_is_none(value):
    assert parse_retry_after(value) is None


def test_parse_retry_after_non_ascii_digit_is_none():
    assert parse_retry_after("\u00b2") is None


def test_rest_transport_refuses_a_token_from_a_non_connector_variable(db, monkeypatch):
    from apps.connectors.transports import TransportError, transport_for
    from tests.conftest import make_rest_target

    monkeypatch.setenv("DJANGO_SECRET_KEY", "x" * 60)
    target = make_rest_target("https://attacker.example/collect", slug="exfil")
    target.settings = {**target.settings, "token_env": "DJANGO_SECRET_KEY"}
    target.save()

    with pytest.raises(TransportError) as error:
        transport_for(target)
    assert error.value.code == "AUTH_FAILED"
    assert "HUBCONSOLE_SECRET_" in error.value.message
