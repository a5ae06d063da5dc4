"""What the simulated targets received, and the faults they are told to inject."""

from django.db import models

from apps.sandbox.choices import ErpDocumentKindChoices, FaultModeChoices


class SandboxPosting(models.Model):
    """A document a simulated target accepted, unique per (target, idempotency key)."""

    target = models.CharField(max_length=60)
    idempotency_key = models.CharField(max_length=300)
    body_sha256 = models.CharField(max_length=64)
    body = models.JSONField()
    reference = models.CharField(max_length=40)
    replays = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["target", "idempotency_key"], name="sandbox_posting_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.target} {self.reference}"


class SandboxFault(models.Model):
    """A fault to inject: for the next ``remaining`` requests and/or until ``active_until``."""

    target = models.CharField(max_length=60, help_text="Target name, or * for every target.")
    mode = models.CharField(max_length=20, choices=FaultModeChoices.choices)
    status = models.PositiveSmallIntegerField(default=503)
    retry_after = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    remaining = models.PositiveIntegerField(null=True, blank=True)
    active_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.mode} on {self.target}"


class SandboxErpDocument(models.Model):
    """A document the simulated ERP accepted: a purchase order, goods receipt or AP voucher.

    Once per idempotency key, and once per document number and revision, as a real ERP would.
    """

    kind = models.CharField(max_length=20, choices=ErpDocumentKindChoices.choices)
    number = models.CharField(max_length=100)
    revision = models.PositiveIntegerField(default=1)
    idempotency_key = models.CharField(max_length=300)
    body_sha256 = models.CharField(max_length=64)
    body = models.JSONField()
    # Not unique: it is derived from the primary key right after the insert.
    erp_id = models.CharField(max_length=40, db_index=True)
    replays = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "idempotency_key"], name="sandbox_erp_document_key_once"
            ),
            models.UniqueConstraint(
                fields=["kind", "number", "revision"], name="sandbox_erp_document_number_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number} ({self.erp_id})"
