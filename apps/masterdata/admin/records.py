"""The record admins, one per kind of master record."""

from django.contrib import admin
from django.core.exceptions import ValidationError

from apps.masterdata.admin.base import (
    CrossReferenceInline,
    InEffectFilter,
    RecordAdmin,
    RecordForm,
    StewardAdmin,
)
from apps.masterdata.admin.imports import StewardImportExportMixin
from apps.masterdata.admin.merge import MergeableAdmin
from apps.masterdata.models import (
    ChargeCode,
    CostCenter,
    Department,
    ExternalSystem,
    Facility,
    FundingSource,
    GLAccount,
    Item,
    LegalEntity,
    ServiceLine,
    Supplier,
    SupplierEnablement,
    SupplierSite,
    UnitOfMeasure,
    UomConversion,
    VendorPart,
)
from apps.masterdata.services import normalized_name

# --- Organisation --------------------------------------------------------------------------------


@admin.register(ExternalSystem)
class ExternalSystemAdmin(StewardAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


@admin.register(LegalEntity)
class LegalEntityAdmin(RecordAdmin):
    pass


@admin.register(Facility)
class FacilityAdmin(RecordAdmin):
    list_display = [
        "code",
        "name",
        "kind",
        "legal_entity",
        "parent",
        "status",
        "effective_from",
        "effective_to",
    ]
    list_filter = [
        "kind",
        "status",
        InEffectFilter,
        "legal_entity",
        "effective_from",
        "effective_to",
    ]
    list_select_related = ["legal_entity", "parent"]
    autocomplete_fields = ["legal_entity", "parent"]


@admin.register(Department)
class DepartmentAdmin(RecordAdmin):
    list_display = ["code", "name", "facility", "status", "effective_from", "effective_to"]
    list_select_related = ["facility"]
    autocomplete_fields = ["facility"]


@admin.register(CostCenter)
class CostCenterAdmin(RecordAdmin):
    list_display = [
        "code",
        "name",
        "legal_entity",
        "facility",
        "department",
        "status",
        "effective_from",
        "effective_to",
    ]
    list_filter = ["status", InEffectFilter, "legal_entity", "effective_from", "effective_to"]
    list_select_related = ["legal_entity", "facility", "department"]
    autocomplete_fields = ["legal_entity", "department", "facility"]


@admin.register(GLAccount)
class GLAccountAdmin(RecordAdmin):
    list_display = [
        "code",
        "name",
        "account_type",
        "legal_entity",
        "status",
        "effective_from",
        "effective_to",
    ]
    list_filter = [
        "account_type",
        "status",
        InEffectFilter,
        "legal_entity",
        "effective_from",
        "effective_to",
    ]
    list_select_related = ["legal_entity"]
    autocomplete_fields = ["legal_entity"]


@admin.register(ServiceLine)
class ServiceLineAdmin(RecordAdmin):
    pass


@admin.register(FundingSource)
class FundingSourceAdmin(RecordAdmin):
    pass


# --- Suppliers and items: duplicates are merged through MergeableAdmin --------------------------


class SupplierForm(RecordForm):
    def clean_name(self):
        name = self.cleaned_data["name"]
        if not normalized_name(name):
            raise ValidationError(
                "The name needs a word that tells this supplier apart, not only a legal form."
            )
        return name


class SupplierSiteInline(admin.TabularInline):
    model = SupplierSite
    fields = ["code", "name", "address", "city", "postal_code", "country"]
    extra = 0
    can_delete = False


class SupplierEnablementInline(admin.TabularInline):
    model = SupplierEnablement
    fields = ["legal_entity", "effective_from", "effective_to"]
    autocomplete_fields = ["legal_entity"]
    extra = 0
    can_delete = False
    verbose_name_plural = "legal entities that may buy from this supplier"


@admin.register(Supplier)
class SupplierAdmin(MergeableAdmin):
    form = SupplierForm
    list_display = [
        "code",
        "name",
        "status",
        "tax_id",
        "payment_terms",
        "effective_from",
        "effective_to",
    ]
    search_fields = ["code", "name", "normalized_name", "tax_id"]
    inlines = [SupplierSiteInline, SupplierEnablementInline, CrossReferenceInline]

    def get_readonly_fields(self, request, obj=None):
        return ["normalized_name", *super().get_readonly_fields(request, obj)]


class VendorPartInline(admin.TabularInline):
    model = VendorPart
    fields = ["supplier", "part_number", "uom"]
    autocomplete_fields = ["supplier", "uom"]
    extra = 0
    can_delete = False


@admin.register(Item)
class ItemAdmin(MergeableAdmin):
    list_display = [
        "code",
        "name",
        "gtin",
        "stocking_uom",
        "chargeable",
        "implant",
        "status",
        "effective_from",
        "effective_to",
    ]
    list_filter = [
        "status",
        InEffectFilter,
        "chargeable",
        "implant",
        "lot_tracked",
        "serial_tracked",
        "stocking_uom",
        "effective_from",
        "effective_to",
    ]
    list_select_related = ["stocking_uom"]
    search_fields = ["code", "name", "gtin", "charge_code"]
    autocomplete_fields = ["stocking_uom"]
    inlines = [VendorPartInline, CrossReferenceInline]


# --- Units, parts, charge codes ------------------------------------------------------------------


@admin.register(UnitOfMeasure)
class UnitOfMeasureAdmin(StewardImportExportMixin, StewardAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]
    inlines = [CrossReferenceInline]


@admin.register(UomConversion)
class UomConversionAdmin(StewardImportExportMixin, StewardAdmin):
    list_display = ["__str__", "item", "from_uom", "to_uom", "factor"]
    list_filter = [("item", admin.EmptyFieldListFilter), "from_uom", "to_uom"]
    list_select_related = ["item", "from_uom", "to_uom"]
    search_fields = ["item__code", "item__name", "from_uom__code", "to_uom__code"]
    autocomplete_fields = ["item", "from_uom", "to_uom"]


@admin.register(VendorPart)
class VendorPartAdmin(StewardImportExportMixin, StewardAdmin):
    list_display = ["part_number", "supplier", "item", "uom"]
    list_filter = ["uom"]
    list_select_related = ["supplier", "item", "uom"]
    search_fields = [
        "part_number",
        "supplier__code",
        "supplier__name",
        "item__code",
        "item__name",
        "item__gtin",
    ]
    autocomplete_fields = ["supplier", "item", "uom"]


@admin.register(ChargeCode)
class ChargeCodeAdmin(RecordAdmin):
    list_display = [
        "code",
        "description",
        "price",
        "revenue_code",
        "cpt_hcpcs",
        "status",
        "effective_from",
        "effective_to",
    ]
    list_filter = ["status", InEffectFilter, "effective_from", "effective_to"]
    search_fields = ["code", "description", "cpt_hcpcs", "revenue_code"]
    inlines = [CrossReferenceInline]
