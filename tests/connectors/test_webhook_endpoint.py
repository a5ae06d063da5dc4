"""The inbound webhook endpoint over real HTTP: what is stored, what is refused, what is said."""

import hashlib
import json
import time

import httpx

from apps.connectors.services import connector_set_paused
from apps.connectors.signing import SIGNATURE_HEADER, sign
from apps.exceptions.models import BusinessException
from apps.pipeline.choices import (
    DirectionChoices,
    TransactionEventKindChoices,
    TransactionStatusChoices,
    WorkStageChoices,
)
from apps.pipeline.models import Transaction, TransactionEvent, WorkItem
from apps.pipeline.services import work_claim
from tests.conftest import WEBHOOK_SECRET, make_rest_target, make_webhook
from tests.connectors.conftest import assert_error, assert_nothing_stored, post_webhook

BODY = json.dumps({"id": "REQ-1", "po_number": "PO-77"}).encode()


def _events(transaction_id: int) -> list[str]:
    return list(
        TransactionEvent.objects.filter(transaction_id=transaction_id).values_list(
            "kind", flat=True
        )
    )


# --- Accepted, duplicate, conflict ------------------------------------------------------------


def test_webhook_accepted_stores_transaction_event_and_work_item(live_server):
    connector = make_webhook()

    response = post_webhook(
        live_server.url, "procurement", BODY, headers={"X-Correlation-ID": "corr-abc-1"}
    )

    assert response.status_code == 202
    assert response.headers["Content-Type"] == "application/json"
    answer = response.json()
    assert answer["status"] == "accepted"
    assert answer["correlation_id"] == "corr-abc-1"
    tx = Transaction.objects.get()
    assert answer["transaction_id"] == tx.pk
    assert tx.connector == connector
    assert tx.direction == DirectionChoices.INBOUND
    assert tx.status == TransactionStatusChoices.RECEIVED
    assert bytes(tx.raw) == BODY
    assert tx.raw_size == len(BODY)
    assert tx.content_sha256 == hashlib.sha256(BODY).hexdigest()
    assert tx.correlation_id == "corr-abc-1"
    assert tx.metadata["channel"] == "webhook"
    assert tx.metadata["remote_addr"] == "127.0.0.1"
    event = TransactionEvent.objects.get()
    assert (event.transaction_id, event.kind) == (tx.pk, TransactionEventKindChoices.RECEIVED)
    assert event.detail == {"size": len(BODY), "sha256": tx.content_sha256}
    work = WorkItem.objects.get()
    assert (work.transaction_id, work.stage, work.connector_id) == (
        tx.pk,
        WorkStageChoices.PROCESS,
        connector.pk,
    )
    assert work.open_claims == 0
    assert work.leased_until is None


def test_webhook_response_carries_request_id(live_server):
    make_webhook()

    made = post_webhook(live_server.url, "procurement", BODY)
    echoed = post_webhook(
        live_server.url, "procurement", BODY, headers={"X-Request-ID": "req-0123456789"}
    )

    assert len(made.headers["X-Request-ID"]) >= 8
    assert echoed.headers["X-Request-ID"] == "req-0123456789"


def test_webhook_generates_correlation_id_when_none_sent(live_server):
    make_webhook()

    response = post_webhook(live_server.url, "procurement", BODY)

    tx = Transaction.objects.get()
    assert len(tx.correlation_id) == 32
    assert response.json()["correlation_id"] == tx.correlation_id


def with_event(event_id: str, **fields) -> bytes:
    return json.dumps(
        {"event_id": event_id, "id": "REQ-1", "po_number": "PO-77", **fields}
    ).encode()


def test_webhook_same_event_id_and_body_is_duplicate(live_server):
    make_webhook()
    body = with_event("evt-1001")
    first = post_webhook(live_server.url, "procurement", body)

    again = post_webhook(live_server.url, "procurement", body)

    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json() == {**first.json(), "status": "duplicate"}
    tx = Transaction.objects.get()
    assert tx.idempotency_key == f"in:{tx.connector_id}:event:evt-1001"
    assert _events(tx.pk) == [
        TransactionEventKindChoices.RECEIVED,
        TransactionEventKindChoices.DUPLICATE_SUPPRESSED,
    ]
    suppressed = TransactionEvent.objects.get(kind=TransactionEventKindChoices.DUPLICATE_SUPPRESSED)
    assert suppressed.code == "DUPLICATE_MESSAGE"
    assert WorkItem.objects.count() == 1


def test_webhook_same_event_id_different_body_is_conflict(live_server):
    make_webhook()
    first = post_webhook(live_server.url, "procurement", with_event("evt-2002"))
    other = with_event("evt-2002", po_number="PO-78")

    response = post_webhook(live_server.url, "procurement", other)

    assert response.status_code == 409
    answer = response.json()
    assert answer["status"] == "conflict"
    original = Transaction.objects.get(pk=first.json()["transaction_id"])
    conflict = Transaction.objects.get(pk=answer["transaction_id"])
    assert Transaction.objects.count() == 2
    assert conflict.status == TransactionStatusChoices.CONFLICT
    assert conflict.duplicate_of == original
    assert conflict.idempotency_key == (
        f"{original.idempotency_key}#conflict:{conflict.content_sha256}"
    )
    assert bytes(conflict.raw) == other
    assert conflict.last_error_code == "DUPLICATE_DIFFERENT_CONTENT"
    assert original.status == TransactionStatusChoices.RECEIVED
    assert _events(original.pk) == [TransactionEventKindChoices.RECEIVED]
    assert _events(conflict.pk) == [TransactionEventKindChoices.DUPLICATE_CONFLICT]
    # The conflicting copy is kept aside, never processed.
    assert list(WorkItem.objects.values_list("transaction_id", flat=True)) == [original.pk]
    exception = BusinessException.objects.get()
    assert exception.code_id == "DUPLICATE_DIFFERENT_CONTENT"
    assert exception.transaction == conflict
    assert exception.status == "open"
    assert exception.details == {"original_transaction_id": original.pk}


def test_webhook_without_event_id_uses_body_sha256_as_key(live_server):
    connector = make_webhook()
    post_webhook(live_server.url, "procurement", BODY)

    again = post_webhook(live_server.url, "procurement", BODY)
    other = post_webhook(live_server.url, "procurement", BODY + b" ")

    tx = Transaction.objects.get(content_sha256=hashlib.sha256(BODY).hexdigest())
    assert tx.idempotency_key == f"in:{connector.pk}:sha256:{tx.content_sha256}"
    assert again.status_code == 200
    assert again.json()["transaction_id"] == tx.pk
    # Different bytes are a different natural key, so a new message, not a conflict.
    assert other.status_code == 202
    assert Transaction.objects.filter(status=TransactionStatusChoices.RECEIVED).count() == 2


def test_webhook_event_id_field_is_the_key(live_server):
    connector = make_webhook(settings={"event_id_field": "meta.event_id"})
    first = json.dumps({"id": "A", "meta": {"event_id": "E-55"}}).encode()
    changed = json.dumps({"id": "B", "meta": {"event_id": "E-55"}}).encode()

    accepted = post_webhook(live_server.url, "procurement", first)
    conflict = post_webhook(live_server.url, "procurement", changed)

    assert accepted.status_code == 202
    assert conflict.status_code == 409
    tx = Transaction.objects.get(pk=accepted.json()["transaction_id"])
    assert tx.idempotency_key == f"in:{connector.pk}:event:E-55"
    assert tx.metadata["event_id"] == "E-55"


def test_webhook_event_id_header_is_not_trusted_because_it_is_not_signed(live_server):
    connector = make_webhook()
    body = with_event("from-body")

    first = post_webhook(live_server.url, "procurement", body, headers={"X-Event-ID": "h-1"})
    # a captured request replayed with another header is still the same message
    again = post_webhook(live_server.url, "procurement", body, headers={"X-Event-ID": "h-2"})

    assert (first.status_code, again.status_code) == (202, 200)
    assert Transaction.objects.get().idempotency_key == f"in:{connector.pk}:event:from-body"


def test_webhook_event_id_field_holding_an_object_falls_back_to_sha256(live_server):
    connector = make_webhook(settings={"event_id_field": "meta"})
    body = json.dumps({"id": "A", "meta": {"nested": 1}}).encode()

    post_webhook(live_server.url, "procurement", body)

    key = f"in:{connector.pk}:sha256:{hashlib.sha256(body).hexdigest()}"
    assert Transaction.objects.get().idempotency_key == key


def test_webhook_same_event_id_on_two_connectors_is_two_messages(live_server):
    make_webhook(slug="procurement")
    make_webhook(slug="logistics")

    one = post_webhook(live_server.url, "procurement", with_event("evt-shared"))
    two = post_webhook(live_server.url, "logistics", with_event("evt-shared"))

    assert (one.status_code, two.status_code) == (202, 202)
    assert Transaction.objects.count() == 2


def test_webhook_accepts_json_content_type_with_charset(live_server):
    make_webhook()

    response = post_webhook(
        live_server.url, "procurement", BODY, content_type="application/json; charset=utf-8"
    )

    assert response.status_code == 202
    assert Transaction.objects.count() == 1


def test_webhook_previous_secret_accepted_during_rotation(live_server, monkeypatch):
    monkeypatch.setenv("HUBCONSOLE_SECRET_TEST_OLD_WEBHOOK_SECRET", "old-secret-1234")
    make_webhook(settings={"previous_secret_env": "HUBCONSOLE_SECRET_TEST_OLD_WEBHOOK_SECRET"})

    old = post_webhook(live_server.url, "procurement", BODY, secret="old-secret-1234")
    current = post_webhook(live_server.url, "procurement", BODY + b"\n", secret=WEBHOOK_SECRET)
    stranger = post_webhook(live_server.url, "procurement", BODY + b"\n\n", secret="not-ours")

    assert old.status_code == 202
    assert current.status_code == 202
    assert_error(stranger, 401, "signature_invalid")
    assert Transaction.objects.count() == 2


def test_webhook_paused_connector_accepts_but_holds_work_until_resumed(live_server, engineer):
    connector = make_webhook(paused=True)

    response = post_webhook(live_server.url, "procurement", BODY)

    assert response.status_code == 202
    tx = Transaction.objects.get()
    assert WorkItem.objects.get().transaction_id == tx.pk
    assert work_claim(stage=WorkStageChoices.PROCESS, limit=10) == []

    connector_set_paused(connector_id=connector.pk, paused=False, actor=engineer)

    claims = work_claim(stage=WorkStageChoices.PROCESS, limit=10)
    assert [c.transaction_id for c in claims] == [tx.pk]


# --- Refused at the door: nothing stored ---------------------------------------------------------


def test_webhook_malformed_json_is_400(live_server):
    make_webhook()

    response = post_webhook(live_server.url, "procurement", b'{"id": "REQ-1",')

    assert_error(response, 400, "malformed_json")
    assert_nothing_stored()


def test_webhook_json_array_is_400_invalid_document(live_server):
    make_webhook()

    response = post_webhook(live_server.url, "procurement", b'[{"id": "REQ-1"}]')

    assert_error(response, 400, "invalid_document")
    assert_nothing_stored()


def test_webhook_body_over_django_limit_is_413(live_server, settings):
    settings.HUBCONSOLE = {**settings.HUBCONSOLE, "WEBHOOK_MAX_BYTES": 2048}
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    make_webhook()
    body = json.dumps({"id": "REQ-1", "pad": "x" * 3000}).encode()

    response = post_webhook(live_server.url, "procurement", body)

    assert_error(response, 413, "payload_too_large")
    assert_nothing_stored()


def test_webhook_body_over_webhook_limit_is_413(live_server, settings):
    # Django's own limit is left high: the connector's limit must still hold.
    settings.HUBCONSOLE = {**settings.HUBCONSOLE, "WEBHOOK_MAX_BYTES": 2048}
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    make_webhook()
    body = json.dumps({"id": "REQ-1", "pad": "x" * 3000}).encode()

    response = post_webhook(live_server.url, "procurement", body)

    assert_error(response, 413, "payload_too_large")
    assert_nothing_stored()


def test_webhook_body_exactly_at_limit_is_accepted(live_server, settings):
    settings.HUBCONSOLE = {**settings.HUBCONSOLE, "WEBHOOK_MAX_BYTES": 2048}
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    make_webhook()
    skeleton = json.dumps({"id": "REQ-1", "pad": ""}).encode()
    body = json.dumps({"id": "REQ-1", "pad": "x" * (2048 - len(skeleton))}).encode()
    assert len(body) == 2048

    response = post_webhook(live_server.url, "procurement", body)

    assert response.status_code == 202
    assert bytes(Transaction.objects.get().raw) == body


def test_webhook_bad_signature_is_401(live_server):
    make_webhook()

    response = post_webhook(live_server.url, "procurement", BODY, secret="wrong-secret")

    assert_error(response, 401, "signature_invalid")
    assert_nothing_stored()


def test_webhook_signature_of_other_body_is_401(live_server):
    make_webhook()
    signature = sign(WEBHOOK_SECRET, b'{"id": "something else"}')

    response = post_webhook(
        live_server.url, "procurement", BODY, secret=None, headers={SIGNATURE_HEADER: signature}
    )

    assert_error(response, 401, "signature_invalid")
    assert_nothing_stored()


def test_webhook_missing_signature_is_401(live_server):
    make_webhook()

    response = post_webhook(live_server.url, "procurement", BODY, secret=None)

    assert_error(response, 401, "signature_missing")
    assert_nothing_stored()


def test_webhook_malformed_signature_is_401(live_server):
    make_webhook()

    response = post_webhook(
        live_server.url,
        "procurement",
        BODY,
        secret=None,
        headers={SIGNATURE_HEADER: "sha256=deadbeef"},
    )

    assert_error(response, 401, "signature_malformed")
    assert_nothing_stored()


def test_webhook_signature_with_non_ascii_digit_timestamp_is_401(live_server):
    make_webhook()
    digest = sign(WEBHOOK_SECRET, BODY).partition(",")[2]

    response = httpx.post(
        f"{live_server.url}/in/webhooks/procurement",
        content=BODY,
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: b"t=\xb2," + digest.encode(),  # latin-1 superscript two
        },
    )

    assert_error(response, 401, "signature_malformed")
    assert_nothing_stored()


def test_webhook_expired_signature_is_401(live_server):
    make_webhook()

    response = post_webhook(live_server.url, "procurement", BODY, timestamp=int(time.time()) - 301)

    assert_error(response, 401, "signature_expired")
    assert_nothing_stored()


def test_webhook_signature_from_the_future_is_401(live_server):
    make_webhook()

    response = post_webhook(live_server.url, "procurement", BODY, timestamp=int(time.time()) + 600)

    assert_error(response, 401, "signature_expired")
    assert_nothing_stored()


def test_webhook_unknown_slug_is_404(live_server):
    make_webhook()

    response = post_webhook(live_server.url, "no-such-connector", BODY)

    assert_error(response, 404, "connector_unknown")
    assert_nothing_stored()


def test_webhook_non_webhook_connector_slug_is_404(live_server):
    make_rest_target("http://127.0.0.1:9/documents", slug="erp")

    response = post_webhook(live_server.url, "erp", BODY)

    assert_error(response, 404, "connector_unknown")
    assert_nothing_stored()


def test_webhook_disabled_connector_is_403(live_server):
    make_webhook(enabled=False)

    response = post_webhook(live_server.url, "procurement", BODY)

    assert_error(response, 403, "connector_disabled")
    assert_nothing_stored()


def test_webhook_wrong_content_type_is_415(live_server):
    make_webhook()

    response = post_webhook(live_server.url, "procurement", BODY, content_type="text/plain")

    assert_error(response, 415, "unsupported_media_type")
    assert_nothing_stored()


def test_webhook_secret_env_unset_is_503(live_server, monkeypatch):
    monkeypatch.delenv("HUBCONSOLE_SECRET_TEST_UNSET_SECRET", raising=False)
    make_webhook(settings={"secret_env": "HUBCONSOLE_SECRET_TEST_UNSET_SECRET"})

    response = post_webhook(live_server.url, "procurement", BODY)

    assert_error(response, 503, "connector_not_configured")
    assert_nothing_stored()


def test_webhook_event_id_with_unsafe_characters_is_400(live_server):
    make_webhook()

    response = post_webhook(live_server.url, "procurement", with_event("evt 1; drop"))

    assert_error(response, 400, "event_id_invalid")
    assert_nothing_stored()


# Regression: the token pattern once ended with "$", which also matches before a final "\n".
def test_webhook_event_id_field_with_trailing_newline_is_400(live_server):
    make_webhook(settings={"event_id_field": "event_id"})
    body = json.dumps({"id": "A", "event_id": "evt-9\n"}).encode()

    response = post_webhook(live_server.url, "procurement", body)

    assert_error(response, 400, "event_id_invalid")
    assert_nothing_stored()


def test_webhook_empty_event_id_falls_back_to_sha256(live_server):
    connector = make_webhook()
    body = with_event("")

    response = post_webhook(live_server.url, "procurement", body)

    assert response.status_code == 202, response.text
    key = f"in:{connector.pk}:sha256:{hashlib.sha256(body).hexdigest()}"
    assert Transaction.objects.get().idempotency_key == key


def test_webhook_event_id_field_can_name_another_field(live_server):
    connector = make_webhook(settings={"event_id_field": "id"})

    response = post_webhook(live_server.url, "procurement", BODY)

    assert response.status_code == 202
    assert Transaction.objects.get().idempotency_key == f"in:{connector.pk}:event:REQ-1"


def test_webhook_long_correlation_id_is_kept_or_refused(live_server):
    make_webhook()
    sent = "c" * 100

    response = post_webhook(
        live_server.url, "procurement", BODY, headers={"X-Correlation-ID": sent}
    )

    if response.status_code == 400:
        assert_error(response, 400, "correlation_id_invalid")
        assert_nothing_stored()
    else:
        assert response.json()["correlation_id"] == sent
        assert Transaction.objects.get().correlation_id == sent


def test_webhook_correlation_id_with_unsafe_characters_is_400(live_server):
    make_webhook()

    response = post_webhook(
        live_server.url, "procurement", BODY, headers={"X-Correlation-ID": "a b"}
    )

    assert_error(response, 400, "correlation_id_invalid")
    assert_nothing_stored()


def test_webhook_chunked_body_without_length_is_411(live_server):
    make_webhook()

    response = httpx.post(
        f"{live_server.url}/in/webhooks/procurement",
        content=iter([BODY]),
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(WEBHOOK_SECRET, BODY)},
    )

    assert_error(response, 411, "length_required")
    assert_nothing_stored()


def test_webhook_get_is_405(live_server):
    make_webhook()

    response = httpx.get(f"{live_server.url}/in/webhooks/procurement")

    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.headers["X-Request-ID"]
    assert_nothing_stored()


def test_webhook_get_answers_json_error(live_server):
    make_webhook()

    response = httpx.get(f"{live_server.url}/in/webhooks/procurement")

    assert_error(response, 405, "method_not_allowed")
