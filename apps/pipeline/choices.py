"""Enumerations of the pipeline app."""

from django.db import models


class DirectionChoices(models.TextChoices):
    INBOUND = "in", "Inbound"
    OUTBOUND = "out", "Outbound"


class TransactionStatusChoices(models.TextChoices):
    RECEIVED = "received", "Received"  # stored, waiting to be processed
    QUEUED = "queued", "Queued"  # outbound, waiting to be delivered
    RETRYING = "retrying", "Retrying"  # a transient failure; the next attempt is scheduled
    COMPLETED = "completed", "Completed"  # inbound processed and routed; outbound delivered
    WAITING = "waiting", "Waiting"  # parked until something it needs arrives (a receipt)
    EXCEPTION = "exception", "Exception"  # stopped with a business exception
    CONFLICT = "conflict", "Stored aside"  # reused a key with other content; kept, not processed
    REJECTED = "rejected", "Rejected"  # a person rejected the document; never processed again


# A person may replay a transaction that stopped, or bring a scheduled retry forward.
REPLAYABLE_STATUSES = frozenset(
    {
        TransactionStatusChoices.EXCEPTION,
        TransactionStatusChoices.RETRYING,
        TransactionStatusChoices.WAITING,
    }
)


class WorkStageChoices(models.TextChoices):
    PROCESS = "process", "Process"
    DELIVER = "deliver", "Deliver"


class TransactionEventKindChoices(models.TextChoices):
    RECEIVED = "received", "Received"
    DUPLICATE_SUPPRESSED = "duplicate_suppressed", "Duplicate suppressed"
    DUPLICATE_CONFLICT = "duplicate_conflict", "Same key, different content"
    PROCESSED = "processed", "Processed"
    ROUTED = "routed", "Routed"
    DELIVERED = "delivered", "Delivered"
    RETRY_SCHEDULED = "retry_scheduled", "Retry scheduled"
    FAILED = "failed", "Failed with code"
    RECLAIMED = "reclaimed", "Reclaimed after a worker stopped"
    REPLAYED = "replayed", "Replayed"
    WAITING = "waiting", "Waiting"
    WOKEN = "woken", "Woken to run again"
    EDITED = "edited", "Edited by a person"
    REJECTED = "rejected", "Rejected by a person"
