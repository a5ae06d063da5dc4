"""The organisation: legal entities, facilities, departments, cost centers, GL accounts."""

from django.db import models

from apps.masterdata.choices import AccountTypeChoices, FacilityKindChoices
from apps.masterdata.models.base import CanonicalRecord, effective_window_check


class ExternalSystem(models.Model):
    """A system whose codes are mapped to canonical records (ERP, billing, procurement...)."""

    code = models.CharField(max_length=30, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class LegalEntity(CanonicalRecord):
    """A company that owns facilities and books its own ledger."""

    class Meta(CanonicalRecord.Meta):
        verbose_name_plural = "legal entities"
        constraints = [effective_window_check("legalentity_window")]


class Facility(CanonicalRecord):
    """A hospital, a clinic, or a location inside one (ward, operating room, store room)."""

    kind = models.CharField(max_length=20, choices=FacilityKindChoices.choices)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    legal_entity = models.ForeignKey(
        LegalEntity, on_delete=models.PROTECT, related_name="facilities"
    )

    class Meta(CanonicalRecord.Meta):
        verbose_name_plural = "facilities"
        constraints = [effective_window_check("facility_window")]


class Department(CanonicalRecord):
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="departments")

    class Meta(CanonicalRecord.Meta):
        constraints = [effective_window_check("department_window")]


class CostCenter(CanonicalRecord):
    legal_entity = models.ForeignKey(
        LegalEntity, on_delete=models.PROTECT, related_name="cost_centers"
    )
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, null=True, blank=True, related_name="cost_centers"
    )
    facility = models.ForeignKey(
        Facility, on_delete=models.PROTECT, null=True, blank=True, related_name="cost_centers"
    )
    annual_budget = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Purchase orders of a calendar year may not exceed this in total; "
        "empty means no budget check.",
    )

    class Meta(CanonicalRecord.Meta):
        constraints = [effective_window_check("costcenter_window")]


class GLAccount(CanonicalRecord):
    account_type = models.CharField(max_length=20, choices=AccountTypeChoices.choices)
    legal_entity = models.ForeignKey(
        LegalEntity, on_delete=models.PROTECT, related_name="gl_accounts"
    )

    class Meta(CanonicalRecord.Meta):
        verbose_name = "GL account"
        constraints = [effective_window_check("glaccount_window")]


class ServiceLine(CanonicalRecord):
    class Meta(CanonicalRecord.Meta):
        constraints = [effective_window_check("serviceline_window")]


class FundingSource(CanonicalRecord):
    class Meta(CanonicalRecord.Meta):
        constraints = [effective_window_check("fundingsource_window")]
