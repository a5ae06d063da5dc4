"""Import and export for stewards: CSV and Excel, a dry run first, all-or-nothing by default."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from import_export.admin import ImportExportMixin
from import_export.forms import ConfirmImportForm, ImportForm
from import_export.results import RowResult
from import_export.signals import post_import

from apps.masterdata.resources import (
    FORMATS,
    RESOURCES,
    ImportFileRefused,
    ImportFileStorage,
    import_max_bytes,
)


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
