"""Suppliers, their sites, and which legal entities may buy from them."""

from django.db import models

from apps.masterdata.choices import SupplierStatusChoices
from apps.masterdata.models.base import CanonicalRecord, EffectiveDated, effective_window_check
from apps.masterdata.models.organisation import LegalEntity


class Supplier(CanonicalRecord):
    """A supplier. ``normalized_name`` and ``tax_id`` find possible duplicates."""

    status = models.CharField(
        max_length=20, choices=SupplierStatusChoices.choices, default=SupplierStatusChoices.ACTIVE
    )
    normalized_name = models.CharField(max_length=200, db_index=True, editable=False)
    tax_id = models.CharField(max_length=30, blank=True, db_index=True)
    payment_terms = models.CharField(max_length=20, blank=True, help_text="e.g. NET30, 2/10NET30")
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="merged_from"
    )

    class Meta(CanonicalRecord.Meta):
        constraints = [effective_window_check("supplier_window")]


class SupplierSite(models.Model):
    """An ordering, shipping or remit-to address of a supplier."""

    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="sites")
    code = models.CharField(max_length=40)
    name = models.CharField(max_length=200)
    address = models.CharField(max_length=300, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 alpha-2")

    class Meta:
        ordering = ["supplier", "code"]
        constraints = [
            models.UniqueConstraint(fields=["supplier", "code"], name="suppliersite_code_unique")
        ]

    def __str__(self) -> str:
        return f"{self.supplier.code}/{self.code}"


class SupplierEnablement(EffectiveDated):
    """A legal entity may buy from a supplier during this window."""

    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="enablements")
    legal_entity = models.ForeignKey(
        LegalEntity, on_delete=models.PROTECT, related_name="supplier_enablements"
    )

    class Meta:
        ordering = ["supplier", "legal_entity", "effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["supplier", "legal_entity", "effective_from"],
                name="supplierenablement_unique",
            ),
            effective_window_check("supplierenablement_window"),
        ]

    def __str__(self) -> str:
        return f"{self.supplier.code} for {self.legal_entity.code}"
