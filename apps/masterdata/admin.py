"""Steward screens: records, mappings and their approval queue, merges, import and export.

Every change is made by a service; nothing is deleted (records are retired or merged).
"""

from auditlog.mixins import AuditlogHistoryAdminMixin
from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.contrib.contenttypes.admin import GenericTabularInline
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from import_export.admin import ImportExportMixin
from import_export.forms import ConfirmImportForm, ImportForm
from import_export.results import RowResult
from import_export.signals import post_import

from apps.core.errors import HubError
from apps.masterdata.choices import ApprovalStatusChoices, RecordStatusChoices
from apps.masterdata.entities import entity_type_for_model
from apps.masterdata.models import (
    ChargeCode,
    CostCenter,
    CrossReference,
    Department,
    ExternalSystem,
    Facility,
    FundingSource,
    GLAccount,
    Item,
    LegalEntity,
    MergeRecord,
    ServiceLine,
    Supplier,
    SupplierEnablement,
    SupplierSite,
    ToleranceRule,
    UnitOfMeasure,
    UomConversion,
    VendorPart,
)
from apps.masterdata.resources import (
    FORMATS,
    RESOURCES,
    ImportFileRefused,
    ImportFileStorage,
    approved_to_supersede,
    find_target,
    import_max_bytes,
)
from apps.masterdata.services import (
    crossref_approve,
    crossref_propose,
    crossref_reject,
    crossref_replay_resolvable,
    crossref_resolvable_exceptions,
    crossref_retire,
    normalized_name,
    record_merge,
    record_save,
    tolerance_approve,
    tolerance_propose,
    tolerance_reject,
    tolerance_retire,
)

PROPOSE = "accounts.fix_mapping"
APPROVE = "accounts.approve_mapping"
REPLAY = "accounts.replay"
DRAFT = ApprovalStatusChoices.DRAFT
APPROVED = ApprovalStatusChoices.APPROVED
MERGED = RecordStatusChoices.MERGED
BOTH_PLACES = [admin.ActionLocation.CHANGE_LIST, admin.ActionLocation.CHANGE_FORM]


def error_text(error: Exception) -> str:
    """What a steward reads when a service refuses."""
    if isinstance(error, HubError):
        return error.message
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error)


def _admin_url(obj, view: str = "change") -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=[obj.pk])


def _changelist_url(model, **query) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return f"{url}?{urlencode(query)}" if query else url


# --- Filters -----------------------------------------------------------------------------------


class InEffectFilter(admin.SimpleListFilter):
    title = "in effect"
    parameter_name = "in_effect"

    def lookups(self, request, model_admin):
        return [
            ("today", "In effect today"),
            ("ended", "Ended"),
            ("future", "Starts later"),
        ]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        if self.value() == "today":
            return queryset.filter(effective_from__lte=today).exclude(effective_to__lt=today)
        if self.value() == "ended":
            return queryset.filter(effective_to__lt=today)
        if self.value() == "future":
            return queryset.filter(effective_from__gt=today)
        return queryset


# --- Common behaviour ---------------------------------------------------------------------------


class RecordForm(forms.ModelForm):
    """Records become 'merged' only through the merge action."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        status = self.fields.get("status")
        if status is not None and hasattr(status, "choices"):
            status.choices = [c for c in status.choices if c[0] != MERGED]


class StewardAdmin(AuditlogHistoryAdminMixin, admin.ModelAdmin):
    """Saves through ``record_save``; never deletes; links each record to its audit log."""

    form = RecordForm
    list_per_page = 50

    def has_delete_permission(self, request, obj=None):
        # Master records are retired (status, effective_to) or merged, never deleted.
        return False

    def has_change_permission(self, request, obj=None):
        if obj is not None and getattr(obj, "status", None) == MERGED:
            return False  # a tombstone: change the survivor
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        record_save(record=obj, actor=request.user)

    def save_formset(self, request, form, formset, change):
        for obj in formset.save(commit=False):
            record_save(record=obj, actor=request.user)
        formset.save_m2m()

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # A service may still refuse after the form validated (a concurrent change, a rule
        # the form cannot see): the transaction is rolled back and the steward told why.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (HubError, ValidationError) as error:
            self.message_user(request, error_text(error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        obj = self.get_object(request, unquote(object_id))
        if obj is not None:
            extra_context["masterdata_links"] = self.object_links(request, obj)
        return super().change_view(request, object_id, form_url, extra_context)

    def object_links(self, request, obj) -> list[tuple[str, str]]:
        return [("Audit log", _admin_url(obj, "auditlog"))]

    def changelist_view(self, request, extra_context=None):
        extra_context = extra_context or {}
        extra_context["masterdata_links"] = self.changelist_links(request)
        return super().changelist_view(request, extra_context)

    def changelist_links(self, request) -> list[tuple[str, str]]:
        return []


# --- Import and export ---------------------------------------------------------------------------


class StewardImportForm(ImportForm):
    valid_rows_only = forms.BooleanField(
        required=False,
        label="Import only the valid rows",
        help_text="Without this, nothing is imported while any row has an error.",
    )

    def clean_import_file(self):
        upload = self.cleaned_data["import_file"]
        limit = import_max_bytes()
        if upload.size > limit:
            raise ValidationError(
                f"The file is {filesizeformat(upload.size)}; files up to "
                f"{filesizeformat(limit)} are imported. Split it into smaller files."
            )
        return upload


class StewardConfirmImportForm(ConfirmImportForm):
    valid_rows_only = forms.BooleanField(required=False, widget=forms.HiddenInput)


class StewardImportExportMixin(ImportExportMixin):
    """CSV and Excel only, a dry run with every row's errors first, and all-or-nothing unless
    the steward asks for the valid rows only."""

    import_formats = FORMATS
    export_formats = FORMATS
    import_form_class = StewardImportForm
    confirm_form_class = StewardConfirmImportForm
    import_template_name = "admin/masterdata/import.html"
    import_export_change_list_template = "admin/masterdata/change_list.html"
    tmp_storage_class = ImportFileStorage
    import_error_display = ("message",)

    def get_resource_classes(self, request):
        return [RESOURCES[self.model]]

    def has_import_permission(self, request):
        return self.has_add_permission(request) and self.has_change_permission(request)

    def has_export_permission(self, request):
        return self.has_view_permission(request)

    def get_import_context_data(self, **kwargs):
        resource = RESOURCES[self.model]
        return {
            "import_max_bytes": import_max_bytes(),
            "import_id_columns": [
                resource.fields[f].column_name for f in resource._meta.import_id_fields
            ],
        }

    def add_data_read_fail_error_to_form(self, form, e):
        if isinstance(e, ImportFileRefused):
            form.add_error("import_file", e.message)
        else:
            super().add_data_read_fail_error_to_form(form, e)

    def get_confirm_form_initial(self, request, import_form):
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["valid_rows_only"] = import_form.cleaned_data.get("valid_rows_only", False)
        return initial

    def import_action(self, request, **kwargs):
        response = super().import_action(request, **kwargs)
        context = getattr(response, "context_data", None) or {}
        result, form = context.get("result"), context.get("form")
        if (
            result is not None
            and "confirm_form" not in context
            and form is not None
            and form.cleaned_data.get("valid_rows_only")
            and not result.has_errors()
            and any(
                row.import_type in (RowResult.IMPORT_TYPE_NEW, RowResult.IMPORT_TYPE_UPDATE)
                for row in result.valid_rows()
            )
        ):
            # The steward accepts that the invalid rows are left out: offer the confirm step.
            context["confirm_form"] = self.create_confirm_form(request, import_form=form)
        return response

    def process_import(self, request, **kwargs):
        try:
            return super().process_import(request, **kwargs)
        except ImportFileRefused as refused:
            self.message_user(request, refused.message, messages.ERROR)
            info = self.get_model_info()
            return HttpResponseRedirect(reverse("admin:{}_{}_import".format(*info)))

    def get_import_data_kwargs(self, **kwargs):
        form = kwargs.get("form")
        valid_rows_only = bool(form is not None and form.cleaned_data.get("valid_rows_only"))
        kwargs = super().get_import_data_kwargs(**kwargs)
        # The confirm step saves nothing when any row fails, unless the steward chose so.
        kwargs["rollback_on_validation_errors"] = not valid_rows_only
        return kwargs

    def process_dataset(self, dataset, form, request, **kwargs):
        result = super().process_dataset(dataset, form, request, **kwargs)
        result.valid_rows_only = bool(form.cleaned_data.get("valid_rows_only"))
        return result

    def process_result(self, result, request):
        if result.has_errors() or (
            result.has_validation_errors() and not getattr(result, "valid_rows_only", False)
        ):
            self.message_user(
                request,
                f"Nothing was imported: {_result_problems(result)}",
                messages.ERROR,
            )
        else:
            self.generate_log_entries(result, request)
            self.add_success_message(result, request)
            post_import.send(sender=None, model=self.model)
        info = self.get_model_info()
        return HttpResponseRedirect(reverse("admin:{}_{}_changelist".format(*info)))

    def add_success_message(self, result, request):
        totals = result.totals
        text = (
            f"Import finished: {totals[RowResult.IMPORT_TYPE_NEW]} new, "
            f"{totals[RowResult.IMPORT_TYPE_UPDATE]} updated, "
            f"{totals[RowResult.IMPORT_TYPE_SKIP]} unchanged "
            f"{self.model._meta.verbose_name_plural}."
        )
        if result.invalid_rows:
            text += f" Not imported: {_result_problems(result)}"
            self.message_user(request, text, messages.WARNING)
        else:
            self.message_user(request, text, messages.SUCCESS)


def _row_problem(row) -> str:
    parts = [
        f"{field}: {' '.join(errors)}" if field != "__all__" else " ".join(errors)
        for field, errors in row.error_dict.items()
    ]
    return f"line {row.number + 1} ({'; '.join(parts)})"


def _result_problems(result, limit: int = 20) -> str:
    problems = [str(error.error) for error in result.base_errors]
    problems += [f"line {number + 1}: {errors[0].error}" for number, errors in result.row_errors()]
    problems += [_row_problem(row) for row in result.invalid_rows]
    more = len(problems) - limit
    text = "; ".join(problems[:limit])
    return text + (f"; and {more} more." if more > 0 else ".")


# --- Cross-references on every mapped record ----------------------------------------------------


class CrossReferenceInline(GenericTabularInline):
    """The external codes that mean this record (read-only: mappings change by proposal)."""

    model = CrossReference
    ct_field = "content_type"
    ct_fk_field = "object_id"
    fields = ["external_system", "external_code", "status", "effective_from", "effective_to"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    template = "admin/masterdata/crossref_inline.html"
    verbose_name_plural = "cross-references from other systems"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("external_system")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.propose_url = ""
        if obj is not None and obj.pk and request.user.has_perm(PROPOSE):
            query = {"entity_type": entity_type_for_model(type(obj)).slug, "target_code": obj.code}
            url = reverse("admin:masterdata_crossreference_add")
            formset.propose_url = f"{url}?{urlencode(query)}"
        return formset


class RecordAdmin(StewardImportExportMixin, StewardAdmin):
    """A canonical record: code, name, status and validity window."""

    list_display = ["code", "name", "status", "effective_from", "effective_to"]
    list_filter = ["status", InEffectFilter, "effective_from", "effective_to"]
    search_fields = ["code", "name"]
    inlines = [CrossReferenceInline]
    actions = ["retire_records"]

    @admin.action(description="Retire: end validity today", permissions=["change"])
    def retire_records(self, request, queryset):
        today = timezone.localdate()
        retired = 0
        for record in queryset:
            if record.status == MERGED or (
                record.effective_to is not None and record.effective_to <= today
            ):
                continue
            record.effective_to = today
            try:
                record_save(record=record, actor=request.user)
                retired += 1
            except (HubError, ValidationError) as error:
                self.message_user(request, f"{record}: {error_text(error)}", messages.ERROR)
        if retired:
            self.message_user(request, f"{retired} record(s) end today.", messages.SUCCESS)


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


# --- Suppliers and items: duplicates and merges --------------------------------------------------


class MergeForm(forms.Form):
    survivor = forms.TypedChoiceField(
        coerce=int,
        widget=forms.RadioSelect,
        label="Record that stays",
        help_text="The other record keeps its history but is marked merged into this one.",
    )
    reason = forms.CharField(
        max_length=300, widget=forms.Textarea(attrs={"rows": 2}), label="Why are they the same?"
    )

    def __init__(self, *args, records, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["survivor"].choices = [(r.pk, str(r)) for r in records]


class MergeableAdmin(RecordAdmin):
    """Suppliers and items: possible duplicates are merged here, and the survivor shows
    what was folded into it."""

    actions = ["merge_records", "retire_records"]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "merged_into", "merge_history"]

    @admin.display(description="Merged into it")
    def merge_history(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        merges = MergeRecord.objects.filter(
            entity_type=entity_type_for_model(self.model).slug, survivor_id=obj.pk
        ).select_related("actor")
        if not merges:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td><a href='{}'>{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    timezone.localtime(m.created_at).strftime("%Y-%m-%d %H:%M"),
                    reverse(
                        f"admin:masterdata_{self.model._meta.model_name}_change",
                        args=[m.merged_id],
                    ),
                    m.merged_code,
                    m.actor,
                    m.moved.get("reason", ""),
                    ", ".join(
                        f"{count} {name.replace('_', ' ')}"
                        for name, count in m.moved.items()
                        if name != "reason" and count
                    )
                    or "nothing",
                )
                for m in merges
            ),
        )
        return format_html(
            "<table><thead><tr><th>When</th><th>Record</th><th>By</th><th>Why</th>"
            "<th>Moved</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    def has_merge_permission(self, request):
        return request.user.has_perm(APPROVE) and self.has_change_permission(request)

    @admin.action(description="Merge the two selected records…", permissions=["merge"])
    def merge_records(self, request, queryset):
        records = list(queryset.order_by("pk")[:3])
        if len(records) != 2:
            self.message_user(request, "Select exactly two records to merge.", messages.ERROR)
            return None
        form = MergeForm(request.POST if "confirm" in request.POST else None, records=records)
        if form.is_bound and form.is_valid():
            survivor_id = form.cleaned_data["survivor"]
            (merged,) = [r for r in records if r.pk != survivor_id]
            try:
                merge = record_merge(
                    model=self.model,
                    survivor_id=survivor_id,
                    merged_id=merged.pk,
                    actor=request.user,
                    reason=form.cleaned_data["reason"],
                )
            except (HubError, ValidationError) as error:
                self.message_user(request, error_text(error), messages.ERROR)
                return None
            moved = ", ".join(
                f"{count} {name.replace('_', ' ')}"
                for name, count in merge.moved.items()
                if name != "reason" and count
            )
            self.message_user(
                request,
                f"Merged {merged.code} into {self.model.objects.get(pk=survivor_id).code}; "
                f"moved: {moved or 'nothing'}.",
                messages.SUCCESS,
            )
            return HttpResponseRedirect(
                reverse(
                    f"admin:masterdata_{self.model._meta.model_name}_change", args=[survivor_id]
                )
            )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Merge two {self.model._meta.verbose_name_plural}",
            "opts": self.model._meta,
            "form": form,
            "records": [
                {
                    "record": r,
                    "vendor_parts": r.vendor_parts.count(),
                    "cross_references": CrossReference.objects.filter(
                        content_type__app_label="masterdata",
                        content_type__model=self.model._meta.model_name,
                        object_id=r.pk,
                    ).count(),
                }
                for r in records
            ],
            "action": "merge_records",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/masterdata/merge.html", context)


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


# --- Units, parts, charge codes -----------------------------------------------------------------


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


# --- Governed mappings: propose, approve, reject, retire ----------------------------------------


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Recorded with the decision and shown to the author.",
    )
    last_day = forms.DateField(
        required=False,
        label="Last day in effect",
        help_text="YYYY-MM-DD; empty means today.",
    )

    def __init__(self, *args, with_last_day: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not with_last_day:
            del self.fields["last_day"]


class GovernedAdmin(StewardAdmin):
    """Drafts, approved and rejected rows are never edited: a change is a new proposal (a
    draft that supersedes the approved row), decided by another steward."""

    list_filter = ["status", InEffectFilter, "effective_from", "effective_to"]
    actions = ["approve_selected", "reject_selected", "retire_selected"]
    change_form_fields: list[str] = []  # shown, read-only, for an existing row
    governance_fields = [
        "status",
        "supersedes_link",
        "created_by",
        "created_at",
        "decided_by",
        "decided_at",
        "decision_reason",
    ]

    # services, set by subclasses
    def approve(self, record, actor):
        raise NotImplementedError

    def reject(self, record, actor, reason):
        raise NotImplementedError

    def retire(self, record, actor, reason, last_day):
        raise NotImplementedError

    def has_add_permission(self, request):
        return super().has_add_permission(request) and request.user.has_perm(PROPOSE)

    def has_change_permission(self, request, obj=None):
        if obj is not None:
            return False  # existing rows are read-only; actions and proposals change them
        return super().has_change_permission(request, obj)

    def has_propose_permission(self, request):
        return request.user.has_perm(PROPOSE)

    def has_approve_permission(self, request):
        return request.user.has_perm(APPROVE)

    def get_fields(self, request, obj=None):
        if obj is None:
            return super().get_fields(request, obj)
        return [*self.change_form_fields, *self.governance_fields]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [*self.change_form_fields, *self.governance_fields]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by", "decided_by")

    @admin.display(description="Replaces")
    def supersedes_link(self, obj):
        if obj.supersedes_id is None:
            return "—"
        return format_html("<a href='{}'>{}</a>", _admin_url(obj.supersedes), obj.supersedes)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("effective_from", timezone.localdate())
        old = None
        if initial.get("supersedes"):
            old = self.model.objects.filter(pk=initial["supersedes"], status=APPROVED).first()
        if old is None:
            initial.pop("supersedes", None)
            return initial
        return {**initial, **self.initial_from(old)}

    def initial_from(self, old) -> dict:
        return {}

    def object_links(self, request, obj):
        links = super().object_links(request, obj)
        if obj.status == APPROVED and request.user.has_perm(PROPOSE):
            add = reverse(f"admin:masterdata_{self.model._meta.model_name}_add")
            links.insert(0, ("Propose a change", f"{add}?supersedes={obj.pk}"))
        return links

    def changelist_links(self, request):
        waiting = self.model.objects.filter(status=DRAFT).count()
        return [
            (f"Waiting for approval ({waiting})", _changelist_url(self.model, status__exact=DRAFT))
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = extra_context or {}
        if request.GET.get("status__exact") == DRAFT:
            extra_context["title"] = (
                f"{self.model._meta.verbose_name_plural.capitalize()} waiting for approval"
            )
        return super().changelist_view(request, extra_context)

    # --- actions

    @admin.action(description="Approve", permissions=["approve"], location=BOTH_PLACES)
    def approve_selected(self, request, queryset):
        approved = []
        for record in queryset.order_by("pk"):
            try:
                outcome = self.approve(record, request.user)
            except (HubError, ValidationError) as error:
                self.message_user(request, f"{record}: {error_text(error)}", messages.ERROR)
                continue
            approved.append(record.pk)
            self.after_approval(request, record, outcome)
        if approved:
            self.message_user(
                request, f"Approved {len(approved)} {self._noun(len(approved))}.", messages.SUCCESS
            )

    def after_approval(self, request, record, outcome) -> None:
        return

    @admin.action(
        description="Reject (or withdraw)…", permissions=["propose"], location=BOTH_PLACES
    )
    def reject_selected(self, request, queryset):
        return self._with_reason(
            request,
            queryset,
            action="reject_selected",
            title="Reject",
            intro="The authors see this reason and can propose a corrected change.",
            perform=lambda record, data: self.reject(record, request.user, data["reason"]),
            done="Rejected",
        )

    @admin.action(description="Retire…", permissions=["approve"], location=BOTH_PLACES)
    def retire_selected(self, request, queryset):
        return self._with_reason(
            request,
            queryset,
            action="retire_selected",
            title="Retire",
            intro="An approved mapping stops being used after its last day; its history stays.",
            perform=lambda record, data: self.retire(
                record, request.user, data["reason"], data.get("last_day")
            ),
            done="Retired",
            with_last_day=True,
        )

    def _noun(self, count: int) -> str:
        opts = self.model._meta
        return str(opts.verbose_name if count == 1 else opts.verbose_name_plural)

    def _with_reason(
        self, request, queryset, *, action, title, intro, perform, done, with_last_day=False
    ):
        """An action that asks for a reason on an intermediate page, then calls a service
        per selected row (each its own transaction; refusals are reported, not fatal)."""
        form = ReasonForm(
            request.POST if "confirm" in request.POST else None, with_last_day=with_last_day
        )
        if form.is_bound and form.is_valid():
            count = 0
            for record in queryset.order_by("pk"):
                try:
                    perform(record, form.cleaned_data)
                    count += 1
                except (HubError, ValidationError) as error:
                    self.message_user(request, f"{record}: {error_text(error)}", messages.ERROR)
            if count:
                self.message_user(request, f"{done} {count} {self._noun(count)}.", messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": f"{title} {self.model._meta.verbose_name_plural}",
            "intro": intro,
            "opts": self.model._meta,
            "form": form,
            "queryset": queryset,
            "action": action,
            "submit": title,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/masterdata/action_reason.html", context)


class CrossReferenceForm(forms.ModelForm):
    target_code = forms.CharField(
        label="Canonical code",
        max_length=40,
        help_text="The code of the HubConsole record that the external code means.",
    )
    supersedes = forms.ModelChoiceField(
        queryset=CrossReference.objects.filter(status=APPROVED),
        required=False,
        widget=forms.HiddenInput,
    )

    class Meta:
        model = CrossReference
        fields = [
            "external_system",
            "entity_type",
            "external_code",
            "target_code",
            "effective_from",
            "effective_to",
            "note",
            "supersedes",
        ]

    def clean(self):
        data = super().clean()
        entity_type, code = data.get("entity_type"), data.get("target_code")
        self.target = None
        if entity_type and code:
            self.target = find_target(entity_type, code.strip())
            if self.target is None:
                self.add_error(
                    "target_code", f"No {entity_type.replace('_', ' ')} has the code {code!r}."
                )
        old = data.get("supersedes")
        if old is not None and (
            old.external_system_id != getattr(data.get("external_system"), "pk", None)
            or old.entity_type != entity_type
            or old.external_code != data.get("external_code")
        ):
            raise ValidationError(
                "A change keeps the external system, entity type and code of the mapping it "
                "replaces; propose a new mapping instead."
            )
        return data


@admin.register(CrossReference)
class CrossReferenceAdmin(StewardImportExportMixin, GovernedAdmin):
    form = CrossReferenceForm
    list_display = [
        "external_system",
        "entity_type",
        "external_code",
        "target_link",
        "status",
        "effective_from",
        "effective_to",
        "created_by",
        "decided_by",
    ]
    list_filter = [
        "status",
        "entity_type",
        "external_system",
        InEffectFilter,
        "effective_from",
        "effective_to",
    ]
    search_fields = ["external_code", "note", "external_system__code"]
    autocomplete_fields = ["external_system"]
    actions = ["approve_selected", "reject_selected", "retire_selected", "replay_resolvable"]
    change_form_fields = [
        "external_system",
        "entity_type",
        "external_code",
        "target_link",
        "effective_from",
        "effective_to",
        "note",
        "open_exceptions",
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("external_system")
            .prefetch_related("target")
        )

    def has_import_permission(self, request):
        return self.has_add_permission(request)

    @admin.display(description="Canonical record")
    def target_link(self, obj):
        target = obj.target
        if target is None:
            return "(missing record)"
        return format_html("<a href='{}'>{}</a>", _admin_url(target), target)

    @admin.display(description="Open exceptions it resolves")
    def open_exceptions(self, obj):
        if obj.status != APPROVED:
            return "— (only an approved mapping resolves exceptions)"
        return crossref_resolvable_exceptions(xref=obj).count()

    def initial_from(self, old):
        return {
            "external_system": old.external_system_id,
            "entity_type": old.entity_type,
            "external_code": old.external_code,
            "target_code": getattr(old.target, "code", ""),
            "effective_to": old.effective_to,
            "supersedes": old.pk,
        }

    def save_model(self, request, obj, form, change):
        draft = crossref_propose(
            actor=request.user,
            system=obj.external_system.code,
            entity_type=obj.entity_type,
            external_code=obj.external_code,
            target=form.target,
            effective_from=obj.effective_from,
            effective_to=obj.effective_to,
            note=obj.note,
            supersedes=form.cleaned_data.get("supersedes")
            or approved_to_supersede(
                external_system=obj.external_system,
                entity_type=obj.entity_type,
                external_code=obj.external_code.strip(),
                start=obj.effective_from,
            ),
        )
        for field in CrossReference._meta.concrete_fields:
            setattr(obj, field.attname, getattr(draft, field.attname))
        obj._state.adding = False
        self.message_user(
            request,
            "Proposed: the mapping is used once another steward approves it.",
            messages.INFO,
        )

    def approve(self, record, actor):
        return crossref_approve(xref_id=record.pk, actor=actor)

    def reject(self, record, actor, reason):
        return crossref_reject(xref_id=record.pk, actor=actor, reason=reason)

    def retire(self, record, actor, reason, last_day):
        return crossref_retire(xref_id=record.pk, actor=actor, reason=reason, last_day=last_day)

    def after_approval(self, request, record, outcome):
        count = len(outcome.resolvable_exception_ids)
        if count:
            self.message_user(
                request,
                format_html(
                    "{} resolves {} open exception(s). <a href='{}'>Select it</a> and run "
                    "“Replay the exceptions this mapping resolves”.",
                    record,
                    count,
                    _changelist_url(CrossReference, id__exact=record.pk),
                ),
                messages.WARNING,
            )

    def has_replay_permission(self, request):
        return request.user.has_perm(REPLAY)

    @admin.action(
        description="Replay the exceptions this mapping resolves",
        permissions=["replay"],
        location=BOTH_PLACES,
    )
    def replay_resolvable(self, request, queryset):
        replayed, refused = 0, {}
        for xref in queryset.order_by("pk"):
            try:
                outcome = crossref_replay_resolvable(xref_id=xref.pk, actor=request.user)
            except (HubError, ValidationError) as error:
                self.message_user(request, f"{xref}: {error_text(error)}", messages.ERROR)
                continue
            replayed += len(outcome.replayed)
            refused.update(outcome.refused)
        text = f"Replayed {replayed} exception(s); {len(refused)} refused."
        if refused:
            shown = list(refused.items())[:10]
            text += " " + "; ".join(f"#{pk}: {why}" for pk, why in shown)
            if len(refused) > len(shown):
                text += f"; and {len(refused) - len(shown)} more"
        self.message_user(request, text, messages.WARNING if refused else messages.SUCCESS)


class ToleranceRuleForm(forms.ModelForm):
    supersedes = forms.ModelChoiceField(
        queryset=ToleranceRule.objects.filter(status=APPROVED),
        required=False,
        widget=forms.HiddenInput,
    )

    class Meta:
        model = ToleranceRule
        fields = [
            "name",
            "level",
            "measure",
            "percent",
            "absolute",
            "supplier",
            "item",
            "facility",
            "effective_from",
            "effective_to",
            "note",
            "supersedes",
        ]


@admin.register(ToleranceRule)
class ToleranceRuleAdmin(GovernedAdmin):
    form = ToleranceRuleForm
    list_display = [
        "name",
        "level",
        "measure",
        "percent",
        "absolute",
        "scope",
        "status",
        "effective_from",
        "effective_to",
        "created_by",
    ]
    list_filter = ["status", "level", "measure", InEffectFilter, "effective_from", "effective_to"]
    search_fields = ["name", "note", "supplier__code", "item__code", "facility__code"]
    autocomplete_fields = ["supplier", "item", "facility"]
    change_form_fields = [
        "name",
        "level",
        "measure",
        "percent",
        "absolute",
        "supplier",
        "item",
        "facility",
        "effective_from",
        "effective_to",
        "note",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("supplier", "item", "facility")

    @admin.display(description="Applies to")
    def scope(self, obj):
        scope = obj.item or obj.supplier or obj.facility
        return str(scope) if scope is not None else "Default"

    def initial_from(self, old):
        return {
            **{
                name: getattr(old, name)
                for name in (
                    "name",
                    "level",
                    "measure",
                    "percent",
                    "absolute",
                    "effective_to",
                )
            },
            "supplier": old.supplier_id,
            "item": old.item_id,
            "facility": old.facility_id,
            "supersedes": old.pk,
        }

    def save_model(self, request, obj, form, change):
        tolerance_propose(
            actor=request.user, rule=obj, supersedes=form.cleaned_data.get("supersedes")
        )
        self.message_user(
            request, "Proposed: the rule is used once another steward approves it.", messages.INFO
        )

    def approve(self, record, actor):
        return tolerance_approve(rule_id=record.pk, actor=actor)

    def reject(self, record, actor, reason):
        return tolerance_reject(rule_id=record.pk, actor=actor, reason=reason)

    def retire(self, record, actor, reason, last_day):
        return tolerance_retire(rule_id=record.pk, actor=actor, reason=reason, last_day=last_day)


# --- Merge records (written by the merge service only) ------------------------------------------


@admin.register(MergeRecord)
class MergeRecordAdmin(admin.ModelAdmin):
    list_display = ["created_at", "entity_type", "merged_code", "survivor_link", "actor", "reason"]
    list_filter = ["entity_type"]
    search_fields = ["merged_code"]
    list_select_related = ["actor"]
    fields = [
        "created_at",
        "entity_type",
        "merged_code",
        "merged_link",
        "survivor_link",
        "actor",
        "reason",
        "moved",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _record_url(self, obj, record_id: int) -> str:
        return reverse(f"admin:masterdata_{obj.entity_type}_change", args=[record_id])

    @admin.display(description="Survivor")
    def survivor_link(self, obj):
        return format_html(
            "<a href='{}'>#{}</a>", self._record_url(obj, obj.survivor_id), obj.survivor_id
        )

    @admin.display(description="Merged record")
    def merged_link(self, obj):
        return format_html(
            "<a href='{}'>{}</a>", self._record_url(obj, obj.merged_id), obj.merged_code
        )

    @admin.display(description="Reason")
    def reason(self, obj):
        return obj.moved.get("reason", "")
