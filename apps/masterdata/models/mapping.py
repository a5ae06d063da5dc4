"""Governed mappings: cross-references and tolerance rules (maker-checker), merge records."""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import RangeOperators
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Cast, Coalesce

from apps.masterdata.choices import (
    ApprovalStatusChoices,
    ToleranceLevelChoices,
    ToleranceMeasureChoices,
)
from apps.masterdata.entities import ENTITY_TYPE_CHOICES
from apps.masterdata.models.base import EffectiveDated, effective_window_check
from apps.masterdata.models.items import Item
from apps.masterdata.models.organisation import ExternalSystem, Facility
from apps.masterdata.models.ranges import DateRange, KeyHash, PointRange
from apps.masterdata.models.suppliers import Supplier


class Governed(EffectiveDated):
    """A mapping that takes effect only after a second steward approves it."""

    status = models.CharField(
        max_length=20, choices=ApprovalStatusChoices.choices, default=ApprovalStatusChoices.DRAFT
    )
    note = models.CharField(max_length=300, blank=True, help_text="Why this change is needed.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(max_length=300, blank=True)
    supersedes = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )

    class Meta:
        abstract = True


class CrossReference(Governed):
    """(external system, entity type, external code) → one canonical record, for a period."""

    external_system = models.ForeignKey(
        ExternalSystem, on_delete=models.PROTECT, related_name="cross_references"
    )
    entity_type = models.CharField(max_length=30, choices=ENTITY_TYPE_CHOICES)
    external_code = models.CharField(max_length=100)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    key_hash = models.GeneratedField(
        expression=KeyHash(
            Cast("external_system_id", models.TextField()), "entity_type", "external_code"
        ),
        output_field=models.BigIntegerField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["external_system", "entity_type", "external_code", "-effective_from"]
        indexes = [
            models.Index(
                fields=["external_system", "entity_type", "external_code"],
                name="xref_lookup_idx",
                condition=Q(status=ApprovalStatusChoices.APPROVED),
            ),
            models.Index(fields=["content_type", "object_id"], name="xref_target_idx"),
            models.Index(
                fields=["status"],
                name="xref_status_idx",
                condition=Q(status=ApprovalStatusChoices.DRAFT),
            ),
        ]
        constraints = [
            effective_window_check("xref_window"),
            # Never two approved mappings of one external code on the same day: every lookup
            # has at most one answer, whatever the date. (Keys compare by a 64-bit hash; a
            # collision could only make an approval be refused, never give a wrong answer.)
            ExclusionConstraint(
                name="xref_no_overlap",
                expressions=[
                    (PointRange("key_hash"), RangeOperators.OVERLAPS),
                    (
                        DateRange("effective_from", "effective_to", models.Value("[]")),
                        RangeOperators.OVERLAPS,
                    ),
                ],
                condition=Q(status=ApprovalStatusChoices.APPROVED),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.external_system.code}:{self.entity_type}:{self.external_code}"


class ToleranceRule(Governed):
    """How far an invoice may differ from PO and receipt and still match.

    Scoped to one item, supplier or facility (the most specific approved rule wins) or, with
    no scope, the default. A percentage, an absolute amount, or both (either suffices).
    """

    name = models.CharField(max_length=120)
    supplier = models.ForeignKey(
        Supplier, on_delete=models.PROTECT, null=True, blank=True, related_name="tolerance_rules"
    )
    item = models.ForeignKey(
        Item, on_delete=models.PROTECT, null=True, blank=True, related_name="tolerance_rules"
    )
    facility = models.ForeignKey(
        Facility, on_delete=models.PROTECT, null=True, blank=True, related_name="tolerance_rules"
    )
    level = models.CharField(max_length=10, choices=ToleranceLevelChoices.choices)
    measure = models.CharField(max_length=10, choices=ToleranceMeasureChoices.choices)
    scope_hash = models.GeneratedField(
        expression=KeyHash(
            *(
                Coalesce(Cast(name, models.TextField()), models.Value(""))
                for name in ("supplier_id", "item_id", "facility_id")
            ),
            "level",
            "measure",
        ),
        output_field=models.BigIntegerField(),
        db_persist=True,
    )
    percent = models.DecimalField(
        max_digits=7, decimal_places=3, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    absolute = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(0)]
    )

    class Meta:
        ordering = ["level", "measure", "name"]
        constraints = [
            effective_window_check("tolerance_window"),
            models.CheckConstraint(
                condition=Q(percent__isnull=False) | Q(absolute__isnull=False),
                name="tolerance_has_a_limit",
            ),
            models.CheckConstraint(
                condition=(
                    Q(supplier__isnull=True, item__isnull=True)
                    | Q(supplier__isnull=True, facility__isnull=True)
                    | Q(item__isnull=True, facility__isnull=True)
                ),
                name="tolerance_one_scope",
            ),
            # One approved rule per scope, level and measure on any day.
            ExclusionConstraint(
                name="tolerance_no_overlap",
                expressions=[
                    (PointRange("scope_hash"), RangeOperators.OVERLAPS),
                    (
                        DateRange("effective_from", "effective_to", models.Value("[]")),
                        RangeOperators.OVERLAPS,
                    ),
                ],
                condition=Q(status=ApprovalStatusChoices.APPROVED),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class MergeRecord(models.Model):
    """A tombstone: ``merged`` was folded into ``survivor``; what moved, who did it, when."""

    entity_type = models.CharField(max_length=30, choices=ENTITY_TYPE_CHOICES)
    survivor_id = models.PositiveBigIntegerField()
    merged_id = models.PositiveBigIntegerField()
    merged_code = models.CharField(max_length=40)
    moved = models.JSONField(default=dict)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["entity_type", "survivor_id"], name="merge_survivor_idx")]

    def __str__(self) -> str:
        return f"{self.entity_type} {self.merged_code} → {self.survivor_id}"
