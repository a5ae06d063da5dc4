"""Master data: canonical reference records and the governed mappings to other systems."""

from apps.masterdata.models.base import BEGINNING, CanonicalRecord, EffectiveDated
from apps.masterdata.models.items import (
    ChargeCode,
    Item,
    UnitOfMeasure,
    UomConversion,
    VendorPart,
)
from apps.masterdata.models.mapping import CrossReference, MergeRecord, ToleranceRule
from apps.masterdata.models.organisation import (
    CostCenter,
    Department,
    ExternalSystem,
    Facility,
    FundingSource,
    GLAccount,
    LegalEntity,
    ServiceLine,
)
from apps.masterdata.models.suppliers import Supplier, SupplierEnablement, SupplierSite

__all__ = [
    "BEGINNING",
    "CanonicalRecord",
    "ChargeCode",
    "CostCenter",
    "CrossReference",
    "Department",
    "EffectiveDated",
    "ExternalSystem",
    "Facility",
    "FundingSource",
    "GLAccount",
    "Item",
    "LegalEntity",
    "MergeRecord",
    "ServiceLine",
    "Supplier",
    "SupplierEnablement",
    "SupplierSite",
    "ToleranceRule",
    "UnitOfMeasure",
    "UomConversion",
    "VendorPart",
]
