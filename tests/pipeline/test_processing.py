"""The process stage: canonical documents, business keys, queued deliveries, coded failures."""

import json

import pytest

from apps.exceptions.models import BusinessException
from apps.pipeline import processors
from apps.pipeline.choices import TransactionEventKindChoices as Kind
from apps.pipeline.choices import TransactionStatusChoices as Status
from apps.pipeline.choices import WorkStageChoices as Stage
from apps.pipeline.models import Transaction, TransactionEvent, TransactionKey, WorkItem
from apps.pipeline.services import work_claim, work_drain
from tests.conftest import make_rest_target, make_webhook
from tests.pipeline.builders import receive_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def flow():
    target = make_rest_target("http://127.0.0.1:9/unused")
    return make_webhook(target), target


def test_generic_document_becomes_canonical_and_queues_one_delivery(flow):
    source, target = flow
    received = receive_json(source, {"id": "REQ-9", "revision": 2, "po_number": "PO-1"})

    assert work_drain(stage=Stage.PROCESS) == 1

    inbound = Transaction.objects.get(pk=received.transaction_id)
    assert inbound.status == Status.COMPLETED
    assert (inbound.document_id, inbound.revision) == ("REQ-9", 2)
    assert inbound.canonical["data"]["po_number"] == "PO-1"
    keys = set(TransactionKey.objects.filter(transaction=inbound).values_list("kind", "value"))
    assert keys == {("document_id", "REQ-9"), ("po_number", "PO-1")}
    outbound = Transaction.objects.get(direction="out")
    assert outbound.idempotency_key == f"out:{target.pk}:generic.document:REQ-9:2"
    assert outbound.parent_id == inbound.pk
    assert outbound.correlation_id == inbound.correlation_id
    assert outbound.status == Status.QUEUED
    assert json.loads(bytes(outbound.raw))["document_id"] == "REQ-9"
    assert WorkItem.objects.get().stage == Stage.DELIVER
    assert list(outbound.events.values_list("kind", flat=True)) == [Kind.ROUTED]


def test_same_revision_from_two_events_is_delivered_once(flow):
    source, _ = flow
    first = receive_json(source, {"id": "REQ-9", "qty": 1}, key="event-1")
    second = receive_json(source, {"id": "REQ-9", "qty": 1}, key="event-2")

    work_drain(stage=Stage.PROCESS)

    outbound = Transaction.objects.get(direction="out")
    assert WorkItem.objects.filter(stage=Stage.DELIVER).count() == 1
    suppressed = TransactionEvent.objects.filter(
        transaction=outbound, kind=Kind.DUPLICATE_SUPPRESSED
    )
    assert suppressed.count() == 1
    statuses = Transaction.objects.filter(pk__in=[first.transaction_id, second.transaction_id])
    assert set(statuses.values_list("status", flat=True)) == {Status.COMPLETED}


@pytest.mark.parametrize("same_batch", [True, False])
def test_changed_content_under_the_same_revision_is_an_exception_not_dropped(flow, same_batch):
    source, _ = flow
    receive_json(source, {"id": "PO-1", "qty": 1}, key="e1")
    if not same_batch:
        work_drain(stage=Stage.PROCESS)
    changed = receive_json(source, {"id": "PO-1", "qty": 999}, key="e2")

    work_drain(stage=Stage.PROCESS)

    outbound = Transaction.objects.get(direction="out")
    assert json.loads(bytes(outbound.raw))["data"]["qty"] == 1
    tx = Transaction.objects.get(pk=changed.transaction_id)
    assert (tx.status, tx.last_error_code) == (Status.EXCEPTION, "DUPLICATE_DIFFERENT_CONTENT")
    exception = BusinessException.objects.get(transaction=tx)
    assert exception.code_id == "DUPLICATE_DIFFERENT_CONTENT"
    assert exception.root_cause_key == "document:generic.document:PO-1"
    assert exception.details["outbound_transaction_id"] == outbound.pk
    assert "needs a new revision" in exception.summary
    assert not WorkItem.objects.filter(transaction=tx).exists()


def test_a_new_revision_is_a_new_delivery(flow):
    source, _ = flow
    receive_json(source, {"id": "REQ-9", "revision": 1}, key="e1")
    receive_json(source, {"id": "REQ-9", "revision": 2}, key="e2")

    work_drain(stage=Stage.PROCESS)

    assert Transaction.objects.filter(direction="out").count() == 2


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{not json", "PARSE_ERROR"),
        (b'["a list"]', "SCHEMA_INVALID"),
        (b'{"name": "no id"}', "SCHEMA_INVALID"),
        (b'{"id": "A", "revision": "two"}', "SCHEMA_INVALID"),
        (b'{"id": "A", "revision": 0}', "SCHEMA_INVALID"),
    ],
)
def test_bad_documents_become_coded_exceptions_without_retrying(flow, raw, code):
    source, _ = flow
    received = receive_json(source, key="bad", raw=raw)

    work_drain(stage=Stage.PROCESS)

    tx = Transaction.objects.get(pk=received.transaction_id)
    assert (tx.status, tx.last_error_code, tx.attempts) == (Status.EXCEPTION, code, 1)
    assert not WorkItem.objects.exists()
    failed = TransactionEvent.objects.get(transaction=tx, kind=Kind.FAILED)
    assert failed.code == code
    exception = BusinessException.objects.get(transaction=tx)
    assert (exception.code_id, exception.team.slug) == (code, "integration")


def test_unknown_document_type_is_a_mapping_exception(flow):
    source, _ = flow
    source.document_type = "x12.850"
    source.save()
    received = receive_json(source, {"id": "A"})

    work_drain(stage=Stage.PROCESS)

    assert BusinessException.objects.get(transaction_id=received.transaction_id).code_id == (
        "VALUE_MAPPING_MISSING"
    )


def test_without_a_route_the_document_completes_with_no_delivery():
    source = make_webhook()
    receive_json(source, {"id": "A"})

    work_drain(stage=Stage.PROCESS)

    assert Transaction.objects.get().status == Status.COMPLETED
    assert not WorkItem.objects.exists()


def test_an_unexpected_processor_failure_is_retried_with_backoff(flow, monkeypatch):
    source, _ = flow
    source.document_type = "test.flaky"
    source.save()

    def flaky(message):
        raise ConnectionError("master data service restarting")

    monkeypatch.setitem(processors._PROCESSORS, "test.flaky", flaky)
    received = receive_json(source, {"id": "A"})

    work_drain(stage=Stage.PROCESS)

    tx = Transaction.objects.get(pk=received.transaction_id)
    assert (tx.status, tx.attempts, tx.last_error_code) == (Status.RETRYING, 1, "PROCESSING_ERROR")
    event = TransactionEvent.objects.get(transaction=tx, kind=Kind.RETRY_SCHEDULED)
    assert event.detail["retry_in_seconds"] > 0
    assert work_claim(stage=Stage.PROCESS, limit=10) == []  # not before its backoff


def test_retries_end_in_retries_exhausted(flow, monkeypatch):
    source, _ = flow
    source.document_type = "test.flaky"
    source.max_attempts = 2
    source.save()
    monkeypatch.setitem(
        processors._PROCESSORS, "test.flaky", lambda m: (_ for _ in ()).throw(OSError("down"))
    )
    received = receive_json(source, {"id": "A"})

    work_drain(stage=Stage.PROCESS)
    WorkItem.objects.update(available_at="2000-01-01T00:00:00Z")
    work_drain(stage=Stage.PROCESS)

    tx = Transaction.objects.get(pk=received.transaction_id)
    assert (tx.status, tx.attempts) == (Status.EXCEPTION, 2)
    exception = BusinessException.objects.get(transaction=tx)
    assert exception.code_id == "RETRIES_EXHAUSTED"
    assert exception.details["last_error_code"] == "PROCESSING_ERROR"


def test_an_unexpected_failure_is_logged_without_the_message_content(flow, monkeypatch, caplog):
    source, _ = flow
    source.document_type = "test.leaky"
    source.save()

    def leaky(message):
        raise ValueError(f"cannot read {message.raw.decode()}")  # quotes the payload

    monkeypatch.setitem(processors._PROCESSORS, "test.leaky", leaky)
    receive_json(source, {"id": "A", "patient": "Jane Roe"})

    with caplog.at_level("INFO"):
        work_drain(stage=Stage.PROCESS)

    assert "ValueError" in caplog.text
    assert "Jane Roe" not in caplog.text
