"""Enumerations of bulk replay jobs and their items."""

from django.db import models


class ReplayJobKindChoices(models.TextChoices):
    EXCEPTIONS = "exceptions", "Exceptions"
    TRANSACTIONS = "transactions", "Transactions"


class ReplayJobStatusChoices(models.TextChoices):
    DRAFT = "draft", "Draft"  # created, its items not yet snapshotted
    PREVIEWED = "previewed", "Previewed"  # items snapshotted and counted; not started
    QUEUED = "queued", "Queued"  # started; waiting for a worker
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


# A worker may still act on these; cancel applies to them.
ACTIVE_STATUSES = frozenset(
    {
        ReplayJobStatusChoices.PREVIEWED,
        ReplayJobStatusChoices.QUEUED,
        ReplayJobStatusChoices.RUNNING,
    }
)
FINISHED_STATUSES = frozenset(
    {
        ReplayJobStatusChoices.DONE,
        ReplayJobStatusChoices.CANCELLED,
        ReplayJobStatusChoices.FAILED,
    }
)


class ReplayJobItemOutcomeChoices(models.TextChoices):
    PENDING = "pending", "Pending"
    REPLAYED = "replayed", "Replayed"
    REFUSED = "refused", "Refused"  # the replay rules said no (closed, not replayable...)
    WOULD_REPLAY = "would_replay", "Would replay"  # dry run: a real run would replay it
    SKIPPED = "skipped", "Skipped"  # not attempted (cancelled, or its transaction done already)
