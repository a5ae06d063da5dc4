"""The transaction store: every message as received or sent, its events and its pending work."""

from django.conf import settings
from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import Q

from apps.pipeline.choices import (
    DirectionChoices,
    TransactionEventKindChoices,
    TransactionStatusChoices,
    WorkStageChoices,
)


class Transaction(models.Model):
    """One message as received or sent (DESIGN §5).

    ``raw`` holds the exact bytes received (or sent), committed before any parsing. The
    idempotency key is unique: inbound it is the sender's natural key, outbound it is unique per
    (target, document, revision) and is reused by every replay, so a target never posts twice.
    """

    # Foreign keys whose lookups a composite or partial index below already serves carry no
    # index of their own: every index costs ingest throughput.
    connector = models.ForeignKey(
        "connectors.Connector",
        on_delete=models.PROTECT,
        related_name="transactions",
        db_index=False,
    )
    direction = models.CharField(max_length=3, choices=DirectionChoices.choices)
    format = models.CharField(max_length=10)
    document_type = models.CharField(max_length=60)
    status = models.CharField(max_length=20, choices=TransactionStatusChoices.choices)
    idempotency_key = models.CharField(max_length=300, unique=True, null=True, blank=True)
    content_sha256 = models.CharField(max_length=64)
    raw = models.BinaryField()
    raw_size = models.PositiveIntegerField()
    # The message as a person last corrected it (edit-and-replay); processing and delivery read
    # this instead of ``raw``, which stays exactly as received. Each edit is a TransactionEdit.
    edited = models.BinaryField(null=True, blank=True)
    canonical = models.JSONField(null=True, blank=True)
    correlation_id = models.CharField(max_length=64, db_index=True)
    document_id = models.CharField(max_length=120, blank=True)
    revision = models.PositiveIntegerField(default=1)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        db_index=False,
    )
    duplicate_of = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="conflicts",
        db_index=False,
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error_code = models.CharField(max_length=50, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["connector", "-received_at"], name="tx_connector_recent_idx"),
            models.Index(fields=["status", "-received_at"], name="tx_status_recent_idx"),
            models.Index(
                fields=["parent"], name="tx_parent_idx", condition=Q(parent__isnull=False)
            ),
            models.Index(
                fields=["duplicate_of"],
                name="tx_duplicate_of_idx",
                condition=Q(duplicate_of__isnull=False),
            ),
            # Search by document id alone (the console's business-key search) and by type + id.
            models.Index(
                fields=["document_id", "document_type"],
                name="tx_document_idx",
                condition=~Q(document_id=""),
            ),
            # Time windows over the whole store (the overview's last 24 hours): rows arrive in
            # time order, so a tiny BRIN index serves ranges on received_at.
            BrinIndex(fields=["received_at"], name="tx_received_brin"),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.document_type} #{self.pk}"


class TransactionEdit(models.Model):
    """One field-level correction of a transaction's message before it was replayed: who,
    why, which fields from what to what, and the message as it was sent on (append-only)."""

    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="edits")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    reason = models.CharField(max_length=300)
    # [{"path": "lines.0.unit_price", "before": ..., "after": ...}, ...]; may hold payload
    # values, so it is shown only to people who may see payloads.
    diff = models.JSONField()
    body = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"edit {self.pk} of transaction {self.transaction_id}"


class TransactionEvent(models.Model):
    """Append-only record of what happened to a transaction.

    A database trigger (migration 0002) refuses UPDATE and DELETE on this table.
    """

    transaction = models.ForeignKey(
        Transaction, on_delete=models.PROTECT, related_name="events", db_index=False
    )
    kind = models.CharField(max_length=30, choices=TransactionEventKindChoices.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    code = models.CharField(max_length=50, blank=True)
    message = models.CharField(max_length=500, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["transaction", "at"], name="txevent_tx_idx"),
            models.Index(fields=["kind", "at"], name="txevent_kind_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} on {self.transaction_id}"


class TransactionKey(models.Model):
    """A business key of a transaction (PO number, invoice number, GTIN+lot...), for search."""

    transaction = models.ForeignKey(Transaction, on_delete=models.CASCADE, related_name="keys")
    kind = models.CharField(max_length=40)
    value = models.CharField(max_length=200)

    class Meta:
        indexes = [
            # Search by any key, newest transactions first (a supplier's or a lot's key may be
            # on thousands of them): read backwards, no sort.
            models.Index(fields=["value", "transaction"], name="txkey_value_tx_idx"),
            models.Index(fields=["kind", "value"], name="txkey_kind_value_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}={self.value}"


class WorkItem(models.Model):
    """Pending work on a transaction, claimed by workers with a lease (FOR UPDATE SKIP LOCKED).

    A row exists only while work is pending, so the queue stays small however large the
    transaction store grows. ``open_claims`` counts claims that never finished: a worker that
    dies leaves it raised, and a message that keeps killing workers becomes POISON_MESSAGE.
    """

    transaction = models.OneToOneField(
        Transaction, on_delete=models.CASCADE, related_name="work_item"
    )
    stage = models.CharField(max_length=10, choices=WorkStageChoices.choices)
    connector = models.ForeignKey(
        "connectors.Connector", on_delete=models.CASCADE, related_name="work_items", db_index=False
    )
    available_at = models.DateTimeField()
    leased_until = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=100, blank=True)
    open_claims = models.PositiveSmallIntegerField(default=0)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["stage", "available_at"], name="work_ready_idx")]

    def __str__(self) -> str:
        return f"{self.stage} {self.transaction_id}"
