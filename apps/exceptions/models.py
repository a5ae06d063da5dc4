"""Models of business exceptions: teams, the code catalogue, work items and their activity."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from apps.exceptions.choices import (
    OPEN_STATUSES,
    BusinessExceptionStatusChoices,
    ExceptionActivityKindChoices,
    ExceptionCategoryChoices,
    SeverityChoices,
)


class Team(models.Model):
    """A group of people who own exception codes and receive their alerts."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    email = models.EmailField(help_text="Distribution list that receives this team's alerts.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ExceptionCode(models.Model):
    """One entry of the exception catalogue: what a code means, who owns it, how urgent it is."""

    code = models.CharField(max_length=50, primary_key=True)
    category = models.CharField(max_length=30, choices=ExceptionCategoryChoices.choices)
    title = models.CharField(max_length=100)
    meaning = models.TextField()
    owning_team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="codes")
    severity = models.CharField(max_length=10, choices=SeverityChoices.choices)
    sla_minutes = models.PositiveIntegerField(help_text="Time to resolve, in minutes.")
    allowed_actions = ArrayField(models.CharField(max_length=30), default=list, blank=True)

    class Meta:
        ordering = ["category", "code"]

    def __str__(self) -> str:
        return f"{self.code} — {self.title}"


class BusinessException(models.Model):
    """A coded, owned, SLA-clocked work item attached to a transaction (or later a document).

    ``root_cause_key`` names what is missing or wrong (e.g. ``supplier:ERP:ACME-77``) so that
    exceptions with the same code and key group into one root cause with one fix.
    Summaries and details never hold patient identifiers.
    """

    code = models.ForeignKey(ExceptionCode, on_delete=models.PROTECT, related_name="exceptions")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="exceptions")
    severity = models.CharField(max_length=10, choices=SeverityChoices.choices)
    status = models.CharField(
        max_length=20,
        choices=BusinessExceptionStatusChoices.choices,
        default=BusinessExceptionStatusChoices.OPEN,
    )
    transaction = models.ForeignKey(
        "pipeline.Transaction",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="exceptions",
    )
    correlation_id = models.CharField(max_length=64, blank=True, db_index=True)
    root_cause_key = models.CharField(max_length=200, blank=True)
    summary = models.CharField(max_length=300)
    details = models.JSONField(default=dict, blank=True)
    # The business context work queues filter on (codes, not names; no patient identifiers):
    # the supplier and facility concerned, the money at stake and the business document.
    supplier = models.CharField(max_length=60, blank=True)
    facility = models.CharField(max_length=60, blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    document = models.CharField(max_length=120, blank=True)
    occurrences = models.PositiveIntegerField(default=1)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_exceptions",
    )
    opened_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    due_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=300, blank=True)
    # A person parked the item on purpose (a supplier is being called, a credit is coming):
    # it stays open and in the queues but raises no SLA alerts until released.
    held_at = models.DateTimeField(null=True, blank=True)
    hold_reason = models.CharField(max_length=300, blank=True, db_default="")

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            # One open work item per (transaction, code): a failure that repeats while the item
            # is still open adds an occurrence instead of a second item.
            models.UniqueConstraint(
                fields=["transaction", "code"],
                condition=Q(status__in=OPEN_STATUSES),
                name="exception_one_open_per_transaction_code",
            ),
            # Findings about records rather than messages (possible duplicates...) have no
            # transaction: one open item per code and root cause.
            models.UniqueConstraint(
                fields=["code", "root_cause_key"],
                condition=Q(status__in=OPEN_STATUSES, transaction__isnull=True),
                name="exception_one_open_per_root_cause_without_transaction",
            ),
        ]
        indexes = [
            models.Index(fields=["team", "status", "opened_at"], name="exception_team_queue_idx"),
            models.Index(
                fields=["code", "root_cause_key"],
                condition=Q(status__in=OPEN_STATUSES),
                name="exception_open_root_cause_idx",
            ),
            # Work queues by supplier or facility read open items newest first.
            models.Index(
                fields=["supplier", "-opened_at"],
                condition=Q(status__in=OPEN_STATUSES) & ~Q(supplier=""),
                name="exception_open_supplier_idx",
            ),
            models.Index(
                fields=["facility", "-opened_at"],
                condition=Q(status__in=OPEN_STATUSES) & ~Q(facility=""),
                name="exception_open_facility_idx",
            ),
            # Business-key search (an invoice or PO number).
            models.Index(
                fields=["document"], condition=~Q(document=""), name="exception_document_idx"
            ),
            # Work queues by code, newest first by id (keyset pages): without it a rare code
            # walked the whole table back from the newest row (61 ms for 41 open items among
            # 150,000, and growing with the closed history; bench/console.py).
            models.Index(
                fields=["code", "id"],
                condition=Q(status__in=OPEN_STATUSES),
                name="exception_open_code_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code_id} #{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_held(self) -> bool:
        return self.held_at is not None


class ExceptionActivity(models.Model):
    """Append-only history of a business exception: every action, by whom, when."""

    exception = models.ForeignKey(
        BusinessException, on_delete=models.PROTECT, related_name="activities"
    )
    kind = models.CharField(max_length=30, choices=ExceptionActivityKindChoices.choices)
    # PROTECT, not SET_NULL: history is append-only, so people who acted are deactivated,
    # never deleted.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "exception activities"

    def __str__(self) -> str:
        return f"{self.kind} on {self.exception_id}"
