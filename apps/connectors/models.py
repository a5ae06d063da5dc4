"""Connectors: configured endpoints (data, not code), their live state and their runs."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.connectors.choices import (
    ConnectorKindChoices,
    ConnectorRunKindChoices,
    ConnectorRunStatusChoices,
    MessageFormatChoices,
)


class Connector(models.Model):
    """One endpoint on the other side: where messages come from or go to, and how.

    ``settings`` holds the kind-specific configuration (URL, folder, host...); secrets are never
    stored here, only the names of environment variables that hold them (``*_env`` keys).
    """

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=ConnectorKindChoices.choices)
    format = models.CharField(
        max_length=10, choices=MessageFormatChoices.choices, default=MessageFormatChoices.JSON
    )
    document_type = models.CharField(
        max_length=60, default="generic.document", help_text="Document type of inbound messages."
    )
    settings = models.JSONField(default=dict, blank=True)
    forward_to = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="fed_by",
        limit_choices_to={"kind": ConnectorKindChoices.REST_OUT},
        help_text="Outbound connector that receives the documents this connector brings in.",
    )
    enabled = models.BooleanField(default=True, help_text="Disabled connectors refuse traffic.")
    paused = models.BooleanField(
        default=False, help_text="Paused connectors keep accepting but hold processing."
    )
    rate_limit_per_second = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.01)],
        help_text="Outbound requests per second; empty means unlimited.",
    )
    rate_limit_burst = models.PositiveIntegerField(default=10)
    timeout_seconds = models.FloatField(default=10.0)
    concurrency = models.PositiveSmallIntegerField(
        default=8,
        validators=[MinValueValidator(1), MaxValueValidator(32)],
        help_text="Outbound requests in flight at once to this target, per worker process.",
    )
    max_attempts = models.PositiveIntegerField(default=8)
    backoff_base_seconds = models.FloatField(default=2.0)
    backoff_cap_seconds = models.FloatField(default=300.0)
    breaker_threshold = models.PositiveIntegerField(
        default=5, help_text="Consecutive transient failures that open the circuit breaker."
    )
    breaker_cooldown_seconds = models.FloatField(default=30.0)
    poll_interval_seconds = models.PositiveIntegerField(default=30)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rate_limit_per_second__isnull=True) | Q(rate_limit_per_second__gt=0),
                name="connector_rate_limit_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ConnectorState(models.Model):
    """Fast-changing operational state of a connector, kept apart so it is not audited.

    Holds the token bucket of the rate limit and the circuit breaker. Workers update it with
    single conditional UPDATEs, one per claimed batch.
    """

    connector = models.OneToOneField(
        Connector, on_delete=models.CASCADE, primary_key=True, related_name="state"
    )
    tokens = models.FloatField(default=0)
    tokens_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    opened_until = models.DateTimeField(null=True, blank=True)
    held_until = models.DateTimeField(
        null=True, blank=True, help_text="Paused until then at the target's request (429)."
    )
    open_count = models.PositiveIntegerField(default=0)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_error_code = models.CharField(max_length=50, blank=True)
    next_pickup_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"state of {self.connector_id}"

    @property
    def breaker_open(self) -> bool:
        return self.opened_until is not None and self.opened_until > timezone.now()

    @property
    def held(self) -> bool:
        return self.held_until is not None and self.held_until > timezone.now()


class ConnectorRun(models.Model):
    """One pickup (or poll) of a connector: what it saw, accepted, suppressed and failed."""

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="runs")
    kind = models.CharField(max_length=20, choices=ConnectorRunKindChoices.choices)
    status = models.CharField(
        max_length=20,
        choices=ConnectorRunStatusChoices.choices,
        default=ConnectorRunStatusChoices.RUNNING,
    )
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    seen = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["connector", "-started_at"], name="connrun_recent_idx")]

    def __str__(self) -> str:
        return f"{self.kind} of {self.connector_id} at {self.started_at:%Y-%m-%d %H:%M:%S}"
