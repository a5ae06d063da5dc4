"""Merging duplicate suppliers and items, and the read-only history of merges."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from apps.core.admin import ReadOnlyAdmin
from apps.core.errors import HubError
from apps.masterdata.admin.base import APPROVE, RecordAdmin, error_text
from apps.masterdata.entities import entity_type_for_model
from apps.masterdata.models import CrossReference, MergeRecord
from apps.masterdata.services import record_merge


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


# --- Merge records (written by the merge service only) -------------------------------------------


@admin.register(MergeRecord)
class MergeRecordAdmin(ReadOnlyAdmin):
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
