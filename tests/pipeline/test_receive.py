"""Receiving: one commit stores raw bytes, event and work item; duplicates stay visible."""

import pytest
from django.db import IntegrityError, connection, transaction

from apps.exceptions.models import BusinessException
from apps.pipeline.choices import TransactionEventKindChoices as Kind
from apps.pipeline.choices import TransactionStatusChoices as Status
from apps.pipeline.models import Transaction, TransactionEvent, WorkItem
from tests.conftest import make_webhook
from tests.pipeline.builders import receive_json

pytestmark = pytest.mark.django_db


def test_receive_stores_raw_bytes_event_and_work_item_together():
    connector = make_webhook()
    raw = '\ufeff{"id": "A-1", "name": "Café"}'.encode("utf-16")

    received = receive_json(connector, key="A-1", raw=raw)

    tx = Transaction.objects.get(pk=received.transaction_id)
    assert received.outcome == "accepted"
    assert bytes(tx.raw) == raw
    assert tx.raw_size == len(raw)
    assert tx.status == Status.RECEIVED
    assert tx.idempotency_key == f"in:{connector.pk}:A-1"
    assert len(tx.correlation_id) == 32
    assert list(tx.events.values_list("kind", flat=True)) == [Kind.RECEIVED]
    work = WorkItem.objects.get(transaction=tx)
    assert (work.stage, work.connector_id, work.open_claims) == ("process", connector.pk, 0)


def test_receive_same_key_same_content_is_a_visible_suppressed_duplicate():
    connector = make_webhook()
    first = receive_json(connector, {"id": "A-1"})

    second = receive_json(connector, {"id": "A-1"})

    assert second.outcome == "duplicate"
    assert second.transaction_id == first.transaction_id
    assert Transaction.objects.count() == 1
    assert WorkItem.objects.count() == 1
    kinds = list(TransactionEvent.objects.values_list("kind", flat=True))
    assert kinds == [Kind.RECEIVED, Kind.DUPLICATE_SUPPRESSED]


def test_receive_same_key_other_content_is_stored_aside_with_an_exception():
    connector = make_webhook()
    first = receive_json(connector, {"id": "A-1", "amount": 1})

    second = receive_json(connector, {"id": "A-1", "amount": 2}, key="A-1")

    assert second.outcome == "conflict"
    aside = Transaction.objects.get(pk=second.transaction_id)
    assert aside.status == Status.CONFLICT
    assert aside.duplicate_of_id == first.transaction_id
    assert aside.idempotency_key == f"in:{connector.pk}:A-1#conflict:{aside.content_sha256}"
    assert not WorkItem.objects.filter(transaction=aside).exists()
    exception = BusinessException.objects.get(transaction=aside)
    assert exception.code_id == "DUPLICATE_DIFFERENT_CONTENT"
    assert exception.team.slug == "integration"
    assert list(exception.activities.values_list("kind", flat=True)) == ["opened"]


def test_receive_rolls_back_everything_when_the_caller_fails():
    connector = make_webhook()

    def receive_then_fail():
        with transaction.atomic():
            receive_json(connector, {"id": "A-1"})
            raise RuntimeError("the sender's connection dropped before the answer")

    with pytest.raises(RuntimeError):
        receive_then_fail()

    assert Transaction.objects.count() == 0
    assert TransactionEvent.objects.count() == 0
    assert WorkItem.objects.count() == 0


def test_transaction_events_are_append_only_in_the_database():
    connector = make_webhook()
    receive_json(connector, {"id": "A-1"})
    event = TransactionEvent.objects.get()

    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        TransactionEvent.objects.filter(pk=event.pk).update(message="rewritten")
    with (
        pytest.raises(Exception, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM pipeline_transactionevent")
    assert TransactionEvent.objects.get().message == ""


def test_idempotency_keys_are_unique_in_the_database():
    connector = make_webhook()
    receive_json(connector, {"id": "A-1"})
    tx = Transaction.objects.get()
    tx.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        tx.save()


def test_receive_the_same_conflicting_message_again_is_stored_aside_once():
    connector = make_webhook()
    receive_json(connector, {"id": "A-1", "amount": 1})

    first = receive_json(connector, {"id": "A-1", "amount": 2})
    again = receive_json(connector, {"id": "A-1", "amount": 2})

    assert again.outcome == "conflict"
    assert again.transaction_id == first.transaction_id
    assert Transaction.objects.filter(status=Status.CONFLICT).count() == 1
    assert BusinessException.objects.count() == 1
    aside = Transaction.objects.get(pk=first.transaction_id)
    kinds = list(aside.events.values_list("kind", flat=True))
    assert kinds == [Kind.DUPLICATE_CONFLICT, Kind.DUPLICATE_SUPPRESSED]
