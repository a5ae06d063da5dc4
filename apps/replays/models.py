"""Bulk replay jobs (DESIGN §5 Replay): the run record of one bulk replay and its items."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from apps.replays.choices import (
    ACTIVE_STATUSES,
    FINISHED_STATUSES,
    ReplayJobItemOutcomeChoices,
    ReplayJobKindChoices,
    ReplayJobStatusChoices,
)

RATE_DEFAULT = 20
RATE_MAX = 200


class ReplayJob(models.Model):
    """One bulk replay: the filter as submitted, the ids it matched (its items, snapshotted
    when it was previewed), the throttle, and its progress, counts and timings.

    Like a Nautobot ``JobResult``, it is the run record of a background job: the counts are
    updated in the same database transaction as the items they count, so they never disagree.
    Every replay runs as ``created_by``, so events, activity and audit rows name that person.
    """

    kind = models.CharField(max_length=20, choices=ReplayJobKindChoices.choices)
    # The list screen's query string, as submitted (one value per filter field).
    filter_params = models.JSONField(default=dict, blank=True)
    dry_run = models.BooleanField(default=False)
    rate_per_second = models.PositiveSmallIntegerField(
        default=RATE_DEFAULT,
        validators=[MinValueValidator(1), MaxValueValidator(RATE_MAX)],
        help_text="At most this many items are replayed per second.",
    )
    status = models.CharField(
        max_length=20,
        choices=ReplayJobStatusChoices.choices,
        default=ReplayJobStatusChoices.DRAFT,
    )
    total = models.PositiveIntegerField(default=0)
    replayed = models.PositiveIntegerField(default=0)
    would_replay = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Written with every batch: a running job whose heartbeat is old has lost its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The redrive scan looks at unfinished jobs only.
            models.Index(
                fields=["status"],
                name="replayjob_active_idx",
                condition=Q(status__in=["queued", "running"]),
            )
        ]

    def __str__(self) -> str:
        return f"Replay job #{self.pk} ({self.kind})"

    @property
    def handled(self) -> int:
        return self.replayed + self.would_replay + self.refused + self.skipped

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def percent(self) -> int:
        return int(self.handled * 100 / self.total) if self.total else 100


class ReplayJobItem(models.Model):
    """One id a bulk replay matched, and what became of it.

    ``target_id`` and ``transaction_id`` are plain numbers, not foreign keys: items are
    written set-based (50,000 in one INSERT ... SELECT, where a foreign key check per row
    would cost more than the insert), and they record what happened even after retention
    prunes the transaction they name.
    """

    job = models.ForeignKey(ReplayJob, on_delete=models.CASCADE, related_name="items")
    # The transaction, or the exception for a job of kind "exceptions".
    target_id = models.BigIntegerField()
    # The transaction behind the target (the target itself for kind "transactions").
    transaction_id = models.BigIntegerField(null=True, blank=True)
    outcome = models.CharField(
        max_length=20,
        choices=ReplayJobItemOutcomeChoices.choices,
        default=ReplayJobItemOutcomeChoices.PENDING,
    )
    code = models.CharField(max_length=50, blank=True)
    message = models.CharField(max_length=500, blank=True)
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["job", "target_id"], name="replayjobitem_once")
        ]
        indexes = [
            # The runner's next pending batch, and the outcome table filtered by outcome.
            models.Index(fields=["job", "outcome", "id"], name="replayjobitem_outcome_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.target_id} {self.outcome}"
