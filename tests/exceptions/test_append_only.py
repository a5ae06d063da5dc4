"""History is append-only in the database: exception activity and transaction events."""

import pytest
from django.db import DatabaseError, connection, transaction

from apps.exceptions.models import ExceptionActivity
from apps.exceptions.services import exception_comment
from apps.pipeline.choices import TransactionEventKindChoices
from apps.pipeline.models import TransactionEvent


def _refused(operation) -> DatabaseError:
    """Run ``operation`` in a savepoint; it must be refused by the append-only trigger."""
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        operation()
    cause = caught.value.__cause__
    assert getattr(cause, "sqlstate", None) == "42501", caught.value  # insufficient_privilege
    assert "append-only" in str(caught.value)
    return caught.value


def _sql(statement: str, params=()):
    def run():
        with connection.cursor() as cursor:
            cursor.execute(statement, params)

    return run


@pytest.fixture
def activity(open_exception, ap_analyst) -> ExceptionActivity:
    item = open_exception()
    return exception_comment(exception_id=item.pk, actor=ap_analyst, text="Original text")


@pytest.fixture
def event(make_transaction) -> TransactionEvent:
    return TransactionEvent.objects.get(
        transaction_id=make_transaction(), kind=TransactionEventKindChoices.RECEIVED
    )


def test_exception_activity_update_is_refused(activity):
    rows = ExceptionActivity.objects.filter(pk=activity.pk)

    _refused(lambda: rows.update(message="Rewritten"))
    _refused(
        _sql(
            "UPDATE exceptions_exceptionactivity SET message = 'Rewritten' WHERE id = %s",
            [activity.pk],
        )
    )
    activity.message = "Rewritten"
    error = _refused(lambda: activity.save())

    assert "UPDATE refused" in str(error)
    assert ExceptionActivity.objects.get(pk=activity.pk).message == "Original text"


def test_exception_activity_delete_is_refused(activity):
    count = ExceptionActivity.objects.count()

    _refused(lambda: ExceptionActivity.objects.filter(pk=activity.pk).delete())
    _refused(_sql("DELETE FROM exceptions_exceptionactivity WHERE id = %s", [activity.pk]))
    error = _refused(lambda: activity.delete())

    assert "DELETE refused" in str(error)
    assert ExceptionActivity.objects.count() == count


def test_transaction_event_update_is_refused(event):
    rows = TransactionEvent.objects.filter(pk=event.pk)

    _refused(lambda: rows.update(message="Rewritten"))
    _refused(_sql("UPDATE pipeline_transactionevent SET code = 'X' WHERE id = %s", [event.pk]))

    event.refresh_from_db()
    assert (event.message, event.code) == ("", "")


def test_transaction_event_delete_is_refused(event):
    _refused(lambda: TransactionEvent.objects.filter(pk=event.pk).delete())
    _refused(_sql("DELETE FROM pipeline_transactionevent WHERE id = %s", [event.pk]))
    _refused(lambda: event.delete())

    assert TransactionEvent.objects.filter(pk=event.pk).exists()


def test_transaction_event_delete_refused_when_the_prune_switch_is_off(event):
    def delete_with_switch_off():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL hubconsole.allow_prune = 'off'")
        TransactionEvent.objects.filter(pk=event.pk).delete()

    _refused(delete_with_switch_off)

    assert TransactionEvent.objects.filter(pk=event.pk).exists()


def test_transaction_event_prune_switch_allows_delete_only(event, make_transaction):
    kept = TransactionEvent.objects.get(transaction_id=make_transaction())
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL hubconsole.allow_prune = 'on'")

        _refused(lambda: TransactionEvent.objects.filter(pk=kept.pk).update(message="Rewritten"))
        deleted, _ = TransactionEvent.objects.filter(pk=event.pk).delete()

    assert deleted == 1
    assert not TransactionEvent.objects.filter(pk=event.pk).exists()
    kept.refresh_from_db()
    assert kept.message == ""
