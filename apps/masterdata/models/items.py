"""Items, units of measure and their conversions, vendor part numbers, charge codes."""

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import RangeOperators
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from apps.masterdata.models.base import CanonicalRecord, EffectiveDated, effective_window_check
from apps.masterdata.models.ranges import DateRange, KeyHash, PointRange
from apps.masterdata.models.suppliers import Supplier

GTIN_VALIDATOR = RegexValidator(r"^\d{8}$|^\d{12,14}$", "A GTIN has 8, 12, 13 or 14 digits.")


class UnitOfMeasure(models.Model):
    code = models.CharField(max_length=10, unique=True, help_text="e.g. EA, BX, CS (X12 355)")
    name = models.CharField(max_length=60)

    class Meta:
        ordering = ["code"]
        verbose_name = "unit of measure"
        verbose_name_plural = "units of measure"

    def __str__(self) -> str:
        return self.code


class ChargeCode(EffectiveDated):
    """A chargemaster (CDM) line. The same code may have several priced versions over time."""

    code = models.CharField(max_length=20)
    description = models.CharField(max_length=200)
    revenue_code = models.CharField(max_length=4, blank=True)
    cpt_hcpcs = models.CharField("CPT/HCPCS", max_length=10, blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(0)])
    status = models.CharField(max_length=20, default="active")
    code_hash = models.GeneratedField(
        expression=KeyHash("code"), output_field=models.BigIntegerField(), db_persist=True
    )

    class Meta:
        ordering = ["code", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["code", "effective_from"], name="chargecode_version"),
            effective_window_check("chargecode_window"),
            # One priced version of a code on any day, so a charge has exactly one price.
            ExclusionConstraint(
                name="chargecode_no_overlap",
                expressions=[
                    (PointRange("code_hash"), RangeOperators.OVERLAPS),
                    (
                        DateRange("effective_from", "effective_to", models.Value("[]")),
                        RangeOperators.OVERLAPS,
                    ),
                ],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.description}"


class Item(CanonicalRecord):
    """An item of the item master; ``code`` is the internal item id."""

    name = models.CharField("description", max_length=200)
    gtin = models.CharField(
        "GTIN", max_length=14, blank=True, db_index=True, validators=[GTIN_VALIDATOR]
    )
    stocking_uom = models.ForeignKey(UnitOfMeasure, on_delete=models.PROTECT, related_name="+")
    chargeable = models.BooleanField(default=False)
    implant = models.BooleanField(default=False)
    lot_tracked = models.BooleanField(default=False)
    serial_tracked = models.BooleanField(default=False)
    charge_code = models.CharField(
        max_length=20, blank=True, help_text="CDM code charged when the item is used."
    )
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="merged_from"
    )

    class Meta(CanonicalRecord.Meta):
        constraints = [effective_window_check("item_window")]


class VendorPart(models.Model):
    """A supplier's own part number for an item (and the unit the supplier sells it in)."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="vendor_parts")
    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="vendor_parts")
    part_number = models.CharField(max_length=60)
    uom = models.ForeignKey(
        UnitOfMeasure, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["supplier", "part_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["supplier", "part_number"], name="vendorpart_unique_per_supplier"
            )
        ]

    def __str__(self) -> str:
        return f"{self.supplier.code}:{self.part_number}"


class UomConversion(models.Model):
    """``1 from_uom = factor * to_uom``, for one item or (item empty) for every item."""

    item = models.ForeignKey(
        Item, on_delete=models.CASCADE, null=True, blank=True, related_name="uom_conversions"
    )
    from_uom = models.ForeignKey(UnitOfMeasure, on_delete=models.PROTECT, related_name="+")
    to_uom = models.ForeignKey(UnitOfMeasure, on_delete=models.PROTECT, related_name="+")
    factor = models.DecimalField(max_digits=14, decimal_places=6, validators=[MinValueValidator(0)])

    class Meta:
        ordering = ["item", "from_uom", "to_uom"]
        constraints = [
            models.UniqueConstraint(
                fields=["item", "from_uom", "to_uom"],
                name="uomconversion_unique",
                nulls_distinct=False,
            ),
            models.CheckConstraint(condition=Q(factor__gt=0), name="uomconversion_factor_positive"),
        ]

    def __str__(self) -> str:
        scope = self.item.code if self.item_id else "all items"
        return f"1 {self.from_uom} = {self.factor} {self.to_uom} ({scope})"
