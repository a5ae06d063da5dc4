"""Rejecting a document: a person decides a stopped message must never go through."""

from django.db import connection, transaction
from django.utils import timezone

from apps.core.audit import acting_as
from apps.core.errors import HubError
from apps.exceptions.choices import ExceptionActionChoices
from apps.exceptions.models import BusinessException
from apps.exceptions.services import (
    exception_open_for,
    exception_reject_alone,
    exceptions_reject_for_transaction,
)
from apps.pipeline.choices import (
    REPLAYABLE_STATUSES,
    TransactionEventKindChoices,
    TransactionStatusChoices,
)
from apps.pipeline.models import Transaction, WorkItem
from apps.pipeline.processors import on_reject_for
from apps.pipeline.services.work import EventRow, events_insert


@transaction.atomic
def exception_reject(*, exception_id: int, actor, reason: str) -> BusinessException:
    """Reject the document behind an exception: its transaction stops for good (no retry,
    replay or wake-up), every open exception on it closes as rejected, and the flow marks its
    business document rejected (an invoice is never matched or paid). A finding without a
    transaction is closed as rejected."""
    transaction_id = (
        BusinessException.objects.filter(pk=exception_id)
        .values_list("transaction_id", flat=True)
        .get()
    )
    # The transaction first, then its exception: the order processing takes them in.
    tx = (
        Transaction.objects.select_for_update().get(pk=transaction_id)
        if transaction_id is not None
        else None
    )
    item = exception_open_for(
        exception_id=exception_id, actor=actor, action=ExceptionActionChoices.REJECT
    )
    reason = reason.strip()
    if not reason:
        raise HubError("REASON_REQUIRED", "Say why the document is rejected.")
    if tx is None:
        return exception_reject_alone(exception_id=item.pk, actor=actor, reason=reason)
    if tx.status not in REPLAYABLE_STATUSES:
        raise HubError(
            "REJECT_NOT_ALLOWED",
            f"Only a stopped transaction can be rejected; this one is "
            f"{tx.get_status_display().lower()}.",
        )
    WorkItem.objects.filter(transaction_id=tx.pk).delete()
    tx.status = TransactionStatusChoices.REJECTED
    tx.completed_at = tx.updated_at = timezone.now()
    with acting_as(actor):
        tx.save(update_fields=["status", "completed_at", "updated_at"])
    with connection.cursor() as cursor:
        events_insert(
            cursor,
            [
                EventRow(
                    tx.pk,
                    TransactionEventKindChoices.REJECTED,
                    message=f"Rejected by {actor.get_username()}: {reason}"[:500],
                    actor_id=actor.pk,
                )
            ],
        )
    exceptions_reject_for_transaction(transaction_id=tx.pk, actor=actor, reason=reason)
    on_reject = on_reject_for(tx.document_type)
    if on_reject is not None:
        on_reject([tx.pk])
    item.refresh_from_db()
    return item
