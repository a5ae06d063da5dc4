"""Master data stewardship: canonical records, governed mappings, the lookup service."""

from django.apps import AppConfig


class MasterdataConfig(AppConfig):
    name = "apps.masterdata"
    label = "masterdata"
    verbose_name = "Master data"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from apps.masterdata import cache, models

        for model in (
            models.ExternalSystem,
            models.LegalEntity,
            models.Facility,
            models.Department,
            models.CostCenter,
            models.GLAccount,
            models.ServiceLine,
            models.FundingSource,
            models.Supplier,
            models.SupplierSite,
            models.SupplierEnablement,
            models.UnitOfMeasure,
            models.UomConversion,
            models.Item,
            models.VendorPart,
            models.ChargeCode,
            models.CrossReference,
            models.ToleranceRule,
        ):
            auditlog.register(model)
            cache.invalidate_on_change(model)
