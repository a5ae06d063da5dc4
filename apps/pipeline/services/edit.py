"""Edit-and-replay: correct fields of a stopped message, record the diff and why, replay it."""

from django.db import connection, transaction

from apps.core.errors import HubError, PermissionDenied
from apps.core.masking import is_patient_path
from apps.exceptions.choices import ExceptionActionChoices, ExceptionActivityKindChoices
from apps.exceptions.services import exceptions_note
from apps.pipeline import editing
from apps.pipeline.choices import REPLAYABLE_STATUSES, TransactionEventKindChoices
from apps.pipeline.models import Transaction, TransactionEdit
from apps.pipeline.selectors import may_edit, replay_blockers
from apps.pipeline.services.replay import transaction_replay
from apps.pipeline.services.work import EventRow, events_insert


@transaction.atomic
def transaction_edit_and_replay(
    *, transaction_id: int, actor, values: dict[str, str], reason: str
) -> TransactionEdit:
    """Apply ``values`` ({field path: text}) to the message of a stopped transaction and
    replay it. The message as received is kept; processing and delivery read the corrected one
    from now on. An outbound posting keeps its idempotency key, so the corrected posting still
    reaches the target at most once."""
    if not may_edit(actor):
        raise PermissionDenied("You may not edit messages.")
    reason = reason.strip()
    if not reason:
        raise HubError("REASON_REQUIRED", "Say why you changed the message.")
    tx = Transaction.objects.select_for_update().get(pk=transaction_id)
    blockers = replay_blockers(transaction_id=tx.pk, action=ExceptionActionChoices.EDIT_REPLAY)
    if blockers:
        raise HubError(
            "ACTION_NOT_ALLOWED",
            f"Edit and replay is not allowed for {', '.join(sorted(blockers))}.",
        )
    if tx.status not in REPLAYABLE_STATUSES:
        raise HubError(
            "REPLAY_NOT_ALLOWED",
            f"Only failed or retrying transactions can be edited and replayed; this one is "
            f"{tx.get_status_display().lower()}.",
        )
    try:
        document = editing.document_of(bytes(tx.edited or tx.raw))
        edited, changes = editing.apply_changes(document, values, protected=is_patient_path)
    except editing.EditError as error:
        raise HubError("EDIT_INVALID", str(error)) from None
    if not changes:
        raise HubError("NOTHING_CHANGED", "Nothing was changed: change a field, or use Replay.")
    body = editing.encode(edited)
    edit = TransactionEdit.objects.create(
        transaction=tx,
        actor=actor,
        reason=reason[:300],
        diff=[change.as_dict() for change in changes],
        body=body,
    )
    tx.edited = body
    tx.save(update_fields=["edited"])
    paths = [change.path for change in changes]
    # Events and exception activity name the fields, never their values (which may hold
    # patient data); the values are in the edit, shown only to who may see payloads.
    summary = f"{len(paths)} field(s) changed ({', '.join(paths[:10])}): {reason}"
    with connection.cursor() as cursor:
        events_insert(
            cursor,
            [
                EventRow(
                    tx.pk,
                    TransactionEventKindChoices.EDITED,
                    message=summary[:500],
                    detail={"edit_id": edit.pk, "fields": paths},
                    actor_id=actor.pk,
                )
            ],
        )
    exceptions_note(
        transaction_id=tx.pk,
        actor=actor,
        kind=ExceptionActivityKindChoices.EDITED,
        message=summary,
        data={"edit_id": edit.pk, "fields": paths},
    )
    transaction_replay(transaction_id=tx.pk, actor=actor)
    return edit
