"""Replay: run a transaction again from the step that failed, with today's master data."""

from django.db import connection, transaction
from django.utils import timezone

from apps.core.errors import HubError, PermissionDenied
from apps.exceptions.models import BusinessException
from apps.exceptions.services import exceptions_note_replay
from apps.pipeline import doorbell
from apps.pipeline.choices import (
    REPLAYABLE_STATUSES,
    DirectionChoices,
    TransactionEventKindChoices,
    TransactionStatusChoices,
    WorkStageChoices,
)
from apps.pipeline.models import Transaction
from apps.pipeline.selectors import replay_blockers
from apps.pipeline.services.work import EventRow, events_insert


@transaction.atomic
def exception_replay(*, exception_id: int, actor) -> Transaction:
    """Replay the transaction behind a business exception (the rules are transaction_replay's)."""
    item = BusinessException.objects.get(pk=exception_id)
    if not item.is_open:
        raise HubError("EXCEPTION_CLOSED", "This exception is already closed.")
    if item.transaction_id is None:
        raise HubError("REPLAY_NOT_ALLOWED", "This exception has no transaction to replay.")
    return transaction_replay(transaction_id=item.transaction_id, actor=actor)


@transaction.atomic
def transaction_replay(*, transaction_id: int, actor) -> Transaction:
    """Queue a failed transaction again. An outbound posting keeps its idempotency key, so a
    replay can never create a second posting at the target. Its open exceptions resolve when
    the replay succeeds, attributed to ``actor``."""
    if actor is None or not actor.has_perm("accounts.replay"):
        raise PermissionDenied("You may not replay transactions.")
    tx = Transaction.objects.select_for_update().get(pk=transaction_id)
    blockers = replay_blockers(transaction_id=tx.pk)
    if blockers:
        raise HubError(
            "ACTION_NOT_ALLOWED", f"Replay is not allowed for {', '.join(sorted(blockers))}."
        )
    if tx.status not in REPLAYABLE_STATUSES:
        raise HubError(
            "REPLAY_NOT_ALLOWED",
            f"Only failed or retrying transactions can be replayed; this one is "
            f"{tx.get_status_display().lower()}.",
        )
    inbound = tx.direction == DirectionChoices.INBOUND
    stage = WorkStageChoices.PROCESS if inbound else WorkStageChoices.DELIVER
    with connection.cursor() as cursor:
        # Upsert: a retrying transaction already has a work item; bring it forward instead.
        cursor.execute(
            """
            INSERT INTO pipeline_workitem (transaction_id, stage, connector_id, available_at,
                                           lease_owner, open_claims, actor_id, created_at)
            VALUES (%s, %s, %s, now(), '', 0, %s, now())
            ON CONFLICT (transaction_id) DO UPDATE
            SET available_at = now(), leased_until = NULL, lease_owner = '', open_claims = 0,
                actor_id = EXCLUDED.actor_id
            """,
            [tx.pk, stage, tx.connector_id, actor.pk],
        )
        events_insert(
            cursor,
            [
                EventRow(
                    tx.pk,
                    TransactionEventKindChoices.REPLAYED,
                    message=f"Replay requested by {actor.get_username()}.",
                    detail={"previous_status": tx.status, "previous_attempts": tx.attempts},
                    actor_id=actor.pk,
                )
            ],
        )
    tx.status = TransactionStatusChoices.RECEIVED if inbound else TransactionStatusChoices.QUEUED
    tx.attempts = 0
    tx.updated_at = timezone.now()
    tx.save(update_fields=["status", "attempts", "updated_at"])
    exceptions_note_replay(transaction_id=tx.pk, actor=actor)
    transaction.on_commit(lambda: doorbell.ring(stage))
    return tx
