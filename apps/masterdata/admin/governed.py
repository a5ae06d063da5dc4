"""Governed mappings and tolerance rules: propose, approve, reject, retire, replay."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from apps.core.errors import HubError
from apps.masterdata.admin.base import (
    APPROVE,
    APPROVED,
    BOTH_PLACES,
    DRAFT,
    PROPOSE,
    REPLAY,
    InEffectFilter,
    StewardAdmin,
    admin_url,
    changelist_url,
    error_text,
)
from apps.masterdata.admin.imports import StewardImportExportMixin
from apps.masterdata.models import CrossReference, ToleranceRule
from apps.masterdata.resources import approved_to_supersede, find_target
from apps.masterdata.services import (
    crossref_approve,
    crossref_propose,
    crossref_reject,
    crossref_replay_resolvable,
    crossref_resolvable_exceptions,
    crossref_retire,
    tolerance_approve,
    tolerance_propose,
    tolerance_reject,
    tolerance_retire,
)


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
        return format_html("<a href='{}'>{}</a>", admin_url(obj.supersedes), obj.supersedes)

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
            (f"Waiting for approval ({waiting})", changelist_url(self.model, status__exact=DRAFT))
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
        return format_html("<a href='{}'>{}</a>", admin_url(target), target)

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
                    changelist_url(CrossReference, id__exact=record.pk),
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
