"""The bases every steward admin builds on: service-backed saves, no deletes, filters, links."""

from auditlog.mixins import AuditlogHistoryAdminMixin
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.contenttypes.admin import GenericTabularInline
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from apps.core.errors import HubError
from apps.masterdata.admin.imports import StewardImportExportMixin
from apps.masterdata.choices import ApprovalStatusChoices, RecordStatusChoices
from apps.masterdata.entities import entity_type_for_model
from apps.masterdata.models import CrossReference
from apps.masterdata.services import record_save

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


def admin_url(obj, view: str = "change") -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=[obj.pk])


def changelist_url(model, **query) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return f"{url}?{urlencode(query)}" if query else url


# --- Filters -------------------------------------------------------------------------------------


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


# --- Common behaviour ----------------------------------------------------------------------------


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
        return [("Audit log", admin_url(obj, "auditlog"))]

    def changelist_view(self, request, extra_context=None):
        extra_context = extra_context or {}
        extra_context["masterdata_links"] = self.changelist_links(request)
        return super().changelist_view(request, extra_context)

    def changelist_links(self, request) -> list[tuple[str, str]]:
        return []


# --- Canonical records and their cross-references ------------------------------------------------


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
