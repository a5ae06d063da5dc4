"""Receiving: store the raw message and its work item in one commit, or record the duplicate."""

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Literal

from django.db import connection, transaction

from apps.connectors.models import Connector
from apps.exceptions.catalogue import codes
from apps.exceptions.services import ExceptionSpec, exceptions_open
from apps.pipeline import doorbell
from apps.pipeline.choices import (
    DirectionChoices,
    TransactionEventKindChoices,
    TransactionStatusChoices,
    WorkStageChoices,
)

Outcome = Literal["accepted", "duplicate", "conflict"]


@dataclass(frozen=True)
class Received:
    transaction_id: int
    outcome: Outcome
    correlation_id: str


@dataclass(frozen=True)
class InboundMessage:
    """What an inbound channel hands over. ``metadata`` must not hold patient identifiers."""

    connector_id: int
    format: str
    document_type: str
    raw: bytes
    idempotency_key: str
    correlation_id: str = ""
    metadata: dict | None = None


def content_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def new_correlation_id() -> str:
    return uuid.uuid4().hex


# One round trip stores the transaction, its "received" event and its work item. ON CONFLICT
# on the unique idempotency key makes a concurrent duplicate wait for the first commit and then
# insert nothing, so exactly one copy is ever stored.
_INSERT_NEW = f"""
WITH tx AS (
    INSERT INTO pipeline_transaction (
        connector_id, direction, format, document_type, status, idempotency_key, content_sha256,
        raw, raw_size, correlation_id, document_id, revision, attempts, last_error_code,
        last_error, metadata, received_at, updated_at
    ) VALUES (
        %(connector_id)s, '{DirectionChoices.INBOUND}', %(format)s, %(document_type)s,
        '{TransactionStatusChoices.RECEIVED}', %(key)s, %(sha)s, %(raw)s, %(size)s,
        %(correlation_id)s, '', 1, 0, '', '', %(metadata)s::jsonb, now(), now()
    )
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id, received_at
), event AS (
    INSERT INTO pipeline_transactionevent (transaction_id, kind, at, code, message, detail)
    SELECT id, '{TransactionEventKindChoices.RECEIVED}', received_at, '', '',
           %(event_detail)s::jsonb
    FROM tx
), work AS (
    INSERT INTO pipeline_workitem (
        transaction_id, stage, connector_id, available_at, lease_owner, open_claims, created_at
    )
    SELECT id, '{WorkStageChoices.PROCESS}', %(connector_id)s, received_at, '', 0, received_at
    FROM tx
)
SELECT id FROM tx
"""  # noqa: S608 (only code constants are interpolated)

_INSERT_CONFLICT = f"""
WITH tx AS (
    INSERT INTO pipeline_transaction (
        connector_id, direction, format, document_type, status, idempotency_key, content_sha256,
        raw, raw_size, correlation_id, document_id, revision, attempts, last_error_code,
        last_error, metadata, duplicate_of_id, received_at, updated_at
    ) VALUES (
        %(connector_id)s, '{DirectionChoices.INBOUND}', %(format)s, %(document_type)s,
        '{TransactionStatusChoices.CONFLICT}', %(conflict_key)s, %(sha)s, %(raw)s, %(size)s,
        %(correlation_id)s, '', 1, 0, '{codes.DUPLICATE_DIFFERENT_CONTENT}', %(message)s,
        %(metadata)s::jsonb, %(original_id)s, now(), now()
    )
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id, received_at
)
INSERT INTO pipeline_transactionevent (transaction_id, kind, at, code, message, detail)
SELECT id, '{TransactionEventKindChoices.DUPLICATE_CONFLICT}', received_at,
       '{codes.DUPLICATE_DIFFERENT_CONTENT}', %(message)s, %(event_detail)s::jsonb
FROM tx
RETURNING transaction_id
"""  # noqa: S608 (only code constants are interpolated)


def _connector_slug(connector_id: int) -> str:
    return Connector.objects.filter(pk=connector_id).values_list("slug", flat=True).first() or ""


def transaction_receive(*, message: InboundMessage) -> Received:
    """Durably store an inbound message; acknowledge the sender only after this returns.

    A message whose idempotency key was seen before with the same content is recorded as a
    visible "duplicate suppressed" event on the original. The same key with different content
    is stored aside (status conflict) with a DUPLICATE_DIFFERENT_CONTENT exception: nothing is
    dropped silently.
    """
    sha = content_hash(message.raw)
    correlation_id = message.correlation_id or new_correlation_id()
    metadata = json.dumps(message.metadata or {})
    params = {
        "connector_id": message.connector_id,
        "format": message.format,
        "document_type": message.document_type,
        "key": message.idempotency_key,
        "sha": sha,
        "raw": message.raw,
        "size": len(message.raw),
        "correlation_id": correlation_id,
        "metadata": metadata,
        "event_detail": json.dumps({"size": len(message.raw), "sha256": sha}),
    }
    # The insert is one statement, atomic on its own: outside a caller's transaction it
    # commits by itself, saving the BEGIN and COMMIT round trips on the hot path.
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_NEW, params)
        row = cursor.fetchone()
    if row is not None:
        transaction.on_commit(lambda: doorbell.ring(WorkStageChoices.PROCESS))
        return Received(row[0], "accepted", correlation_id)
    return _receive_duplicate(message, params, sha, correlation_id)


def _suppress_duplicate(cursor, key: str, sha: str, message: InboundMessage) -> int:
    """Record, on the transaction holding ``key``, that the same content arrived again."""
    cursor.execute(
        "INSERT INTO pipeline_transactionevent (transaction_id, kind, at, code, message, detail) "
        "SELECT id, %s, now(), %s, %s, %s::jsonb FROM pipeline_transaction "
        "WHERE idempotency_key = %s RETURNING transaction_id",
        [
            TransactionEventKindChoices.DUPLICATE_SUPPRESSED,
            codes.DUPLICATE_MESSAGE,
            "An identical message with the same key arrived again; not processed twice.",
            json.dumps({"sha256": sha, "metadata": message.metadata or {}}),
            key,
        ],
    )
    return cursor.fetchone()[0]


def _receive_duplicate(message: InboundMessage, params: dict, sha: str, correlation_id: str):
    """The key exists: a visible suppressed duplicate, or a conflict stored aside."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, content_sha256, correlation_id FROM pipeline_transaction "
            "WHERE idempotency_key = %s",
            [message.idempotency_key],
        )
        original_id, original_sha, original_correlation = cursor.fetchone()
        if original_sha == sha:
            _suppress_duplicate(cursor, message.idempotency_key, sha, message)
            return Received(original_id, "duplicate", original_correlation)

        text = (
            f"Idempotency key reused with different content; the original is transaction "
            f"{original_id}."
        )
        # Stored aside once per distinct content: a sender retrying the same conflicting
        # message adds a visible duplicate event to that copy, not another copy.
        conflict_key = f"{message.idempotency_key}#conflict:{sha}"
        cursor.execute(
            _INSERT_CONFLICT,
            {**params, "original_id": original_id, "message": text, "conflict_key": conflict_key},
        )
        row = cursor.fetchone()
        if row is None:
            aside_id = _suppress_duplicate(cursor, conflict_key, sha, message)
            return Received(aside_id, "conflict", correlation_id)
        conflict_id = row[0]
        exceptions_open(
            [
                ExceptionSpec(
                    code=codes.DUPLICATE_DIFFERENT_CONTENT,
                    transaction_id=conflict_id,
                    correlation_id=correlation_id,
                    summary=text,
                    root_cause_key=f"connector:{_connector_slug(message.connector_id)}",
                    details={"original_transaction_id": original_id},
                )
            ]
        )
        return Received(conflict_id, "conflict", correlation_id)
