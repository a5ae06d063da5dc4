"""Spreadsheet import and export of master data for the steward admin.

Codes are the keys, every save goes through a service, exported text cannot run as a formula,
and a hostile or unreadable file is refused with a message a steward can act on.
"""

import csv
import datetime
import io
import re
import zipfile
from decimal import Decimal, InvalidOperation

import tablib
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError
from django.utils import timezone
from import_export import fields, resources, widgets
from import_export.formats import base_formats
from import_export.tmp_storages import CacheStorage

from apps.core.errors import HubError
from apps.masterdata.choices import ApprovalStatusChoices, RecordStatusChoices
from apps.masterdata.entities import ENTITY_TYPES
from apps.masterdata.models import (
    BEGINNING,
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
    ServiceLine,
    Supplier,
    UnitOfMeasure,
    UomConversion,
    VendorPart,
)
from apps.masterdata.services import crossref_propose, record_save

# Limits of one upload. The byte limit can be set in settings.HUBCONSOLE["IMPORT_MAX_BYTES"].
DEFAULT_IMPORT_MAX_BYTES = 5 * 1024 * 1024
IMPORT_MAX_ROWS = 20_000
# An .xlsx is a zip: a small upload can inflate to gigabytes (a zip bomb) before parsing.
XLSX_MAX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024


def import_max_bytes() -> int:
    return int(settings.HUBCONSOLE.get("IMPORT_MAX_BYTES", DEFAULT_IMPORT_MAX_BYTES))


class ImportFileRefused(Exception):
    """The file as a whole cannot be read or used; the message tells the steward why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- Formula injection -------------------------------------------------------------------------

# A spreadsheet treats a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def escape_formula(value):
    """Text that a spreadsheet would run as a formula, prefixed with ' so it stays text."""
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_TRIGGERS)
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def unescape_formula(value: str) -> str:
    """Undo ``escape_formula``, so an exported file imports back unchanged."""
    if len(value) > 1 and value[0] == "'" and value[1] in "".join(FORMULA_TRIGGERS):
        return value[1:]
    return value


# --- Formats -----------------------------------------------------------------------------------


def _table(rows: list[list], *, what: str) -> tablib.Dataset:
    """Rows (the first is the header) as a Dataset; trailing blank rows and columns dropped."""
    if not rows or not any(cell not in (None, "") for cell in rows[0]):
        raise ImportFileRefused(f"The {what} is empty: the first line must name the columns.")
    header = list(rows[0])
    while header and header[-1] in (None, ""):
        header.pop()
    width = len(header)
    while rows and len(rows) > 1 and all(cell in (None, "") for cell in rows[-1]):
        rows.pop()
    if len(rows) - 1 > IMPORT_MAX_ROWS:
        raise ImportFileRefused(
            f"The {what} has more than {IMPORT_MAX_ROWS} rows, the most imported at once. "
            "Split it into smaller files."
        )
    dataset = tablib.Dataset(headers=[("" if h is None else str(h)) for h in header])
    for number, row in enumerate(rows[1:], start=2):
        row = list(row)
        extra = row[width:]
        if any(cell not in (None, "") for cell in extra):
            raise ImportFileRefused(
                f"Line {number} has more cells than the header names columns. Check the "
                "delimiter and quotes on that line."
            )
        dataset.append((row[:width] + [""] * width)[:width])
    return dataset


def _require_upload(in_stream) -> None:
    if in_stream is None:
        raise ImportFileRefused(
            "The uploaded file is no longer available (it is kept for an hour); upload it again."
        )


class SafeCSV(base_formats.CSV):
    """CSV read as bytes so a bad encoding gets a clear message; written with a BOM so a
    spreadsheet opens accents correctly."""

    def is_binary(self):
        return True

    def get_read_mode(self):
        return "rb"

    def create_dataset(self, in_stream, **kwargs):
        _require_upload(in_stream)
        data = in_stream.encode() if isinstance(in_stream, str) else bytes(in_stream)
        # Excel's "Unicode text" is UTF-16 with a byte-order mark.
        encoding = "utf-16" if data.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig"
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as error:
            raise ImportFileRefused(
                f"The file is not UTF-8 text (unreadable byte at position {error.start}). If it "
                "is a spreadsheet, upload it as .xlsx or save it as 'CSV UTF-8'."
            ) from None
        if "\x00" in text:
            raise ImportFileRefused("The file contains binary data; it is not a CSV file.")
        first_line = text.split("\n", 1)[0]
        # Spreadsheets in many European locales save CSV with semicolons.
        delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
        try:
            rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        except csv.Error as error:
            raise ImportFileRefused(f"The file is not valid CSV: {error}.") from None
        return _table(rows, what="file")

    def export_data(self, dataset, **kwargs):
        return ("\ufeff" + dataset.export("csv")).encode("utf-8")


class SafeXLSX(base_formats.XLSX):
    """The first sheet of a workbook, parsed without trusting it: size checked before
    unzipping, XML read by defusedxml (through openpyxl), formulas read as their text."""

    def create_dataset(self, in_stream):
        import openpyxl

        _require_upload(in_stream)
        if not openpyxl.DEFUSEDXML:
            # openpyxl falls back to the standard XML parser without defusedxml.
            raise ImportFileRefused("Excel import is disabled: defusedxml is not available.")
        try:
            archive = zipfile.ZipFile(io.BytesIO(in_stream))
            inflated = sum(member.file_size for member in archive.infolist())
        except (zipfile.BadZipFile, ValueError):
            raise ImportFileRefused(
                "The file is not an Excel workbook (.xlsx). Choose the format that matches "
                "the file."
            ) from None
        if inflated > XLSX_MAX_UNCOMPRESSED_BYTES:
            raise ImportFileRefused(
                "The workbook unpacks to more than "
                f"{XLSX_MAX_UNCOMPRESSED_BYTES // (1024 * 1024)} MB; it is refused."
            )
        try:
            # data_only=False: a formula cell gives its text ("=A1+1"), which is stored as
            # text; nothing computed by the file's author (or by us) is taken as data.
            book = openpyxl.load_workbook(io.BytesIO(in_stream), read_only=True, data_only=False)
            try:
                sheet = book.worksheets[0]
                rows = []
                for row in sheet.iter_rows(values_only=True):
                    rows.append(list(row))
                    if len(rows) > IMPORT_MAX_ROWS + 1:
                        break
            finally:
                book.close()
        except ImportFileRefused:
            raise
        except Exception as error:
            raise ImportFileRefused(_xlsx_problem(error)) from None
        return _table(rows, what="first sheet")

    def export_data(self, dataset, **kwargs):
        # Control characters make openpyxl refuse the whole export; replace them instead.
        self._escape_illegal_chars(dataset)
        return super().export_data(dataset, **kwargs)


def _xlsx_problem(error: Exception) -> str:
    from defusedxml import DefusedXmlException

    cause = error
    while cause is not None and not isinstance(cause, DefusedXmlException):
        cause = cause.__cause__ or cause.__context__
    if cause is not None:  # openpyxl wraps the parser's refusal in a ValueError
        return (
            "The workbook contains XML declarations (entities or a DTD) that are refused for "
            "safety. Save it again from your spreadsheet program."
        )
    if isinstance(error, IndexError):
        return "The workbook has no sheet."
    return f"The workbook could not be read ({type(error).__name__}). Save it again as .xlsx."


FORMATS = [SafeCSV, SafeXLSX]


class ImportFileStorage(CacheStorage):
    """Uploaded files wait for the confirm step in the shared cache (any web process may
    serve it), for an hour at most."""

    CACHE_LIFETIME = 3600
    CACHE_PREFIX = "masterdata-import-"


# --- Widgets -----------------------------------------------------------------------------------


def _text(value) -> str:
    """A cell as text: numbers from a workbook without a trailing '.0', spaces trimmed."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime.datetime):
        value = value.date()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return unescape_formula(str(value).strip())


class TextWidget(widgets.CharWidget):
    def clean(self, value, row=None, **kwargs):
        return _text(value)


class CodeWidget(widgets.ForeignKeyWidget):
    """A foreign key written as the related record's code."""

    def __init__(self, model, field="code", **kwargs):
        super().__init__(model, field, **kwargs)

    def clean(self, value, row=None, **kwargs):
        code = _text(value)
        if not code:
            return None
        found = list(self.get_queryset(code, row).filter(**{self.field: code})[:2])
        if not found:
            raise ValueError(f"No {self.model._meta.verbose_name} has the code {code!r}.")
        return found[0]


class DecimalWidget(widgets.DecimalWidget):
    def clean(self, value, row=None, **kwargs):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return Decimal(str(value))
        text = _text(value)
        if not text:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{text!r} is not a number.") from None
        if not number.is_finite():
            raise ValueError(f"{text!r} is not a number.")
        return number


class BooleanWidget(widgets.BooleanWidget):
    _TRUE = {"1", "true", "yes", "y", "x"}
    _FALSE = {"0", "false", "no", "n", ""}

    def clean(self, value, row=None, **kwargs):
        if isinstance(value, bool):
            return value
        text = _text(value).lower()
        if text in self._TRUE:
            return True
        if text in self._FALSE:
            return False
        raise ValueError(f"{text!r} is not yes or no.")


class DateWidget(widgets.DateWidget):
    def clean(self, value, row=None, **kwargs):
        if isinstance(value, datetime.datetime):
            return value.date()
        if isinstance(value, datetime.date):
            return value
        text = _text(value)
        if not text:
            return None
        try:
            return datetime.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a date; write it as YYYY-MM-DD.") from None

    def render(self, value, obj=None, **kwargs):
        return value.isoformat() if isinstance(value, datetime.date) else ""


def _column(name: str, widget=None, **kwargs) -> fields.Field:
    return fields.Field(attribute=name, column_name=name, widget=widget or TextWidget(), **kwargs)


def _code_column(name: str, model, **kwargs) -> fields.Field:
    return fields.Field(attribute=name, column_name=name, widget=CodeWidget(model), **kwargs)


def _normalized_header(header) -> str:
    return re.sub(r"[\s\-]+", "_", str(header or "").strip().lower())


# --- Resources ---------------------------------------------------------------------------------


class MasterdataResource(resources.ModelResource):
    """Base of every master-data resource: rows are saved by the records service, every
    problem of a row is a validation error of that row, and exported text is escaped."""

    WIDGETS_MAP = {
        **resources.ModelResource.WIDGETS_MAP,
        "CharField": TextWidget,
        "TextField": TextWidget,
        "DecimalField": DecimalWidget,
        "DateField": DateWidget,
        "BooleanField": BooleanWidget,
    }

    class Meta:
        use_transactions = True
        skip_unchanged = True
        report_skipped = True
        # record_save validates (and every row goes through it), so the library does not.
        clean_model_instances = False

    # --- the file as a whole

    def import_data_inner(self, dataset, dry_run, raise_errors, using_transactions, *a, **kw):
        problem = self._header_problem(dataset)
        if problem:
            result = self.get_result_class()()
            result.total_rows = len(dataset)
            result.append_base_error(self.get_error_result_class()(ImportFileRefused(problem)))
            return result
        return super().import_data_inner(
            dataset, dry_run, raise_errors, using_transactions, *a, **kw
        )

    def _header_problem(self, dataset) -> str:
        """Normalise the header (case, spaces) and name what is missing or unknown."""
        dataset.headers = [_normalized_header(h) for h in dataset.headers or []]
        headers = dataset.headers
        known = [f.column_name for f in self.get_import_fields()]
        exported = [f.column_name for f in self.fields.values()]
        id_columns = [self.fields[name].column_name for name in self.get_import_id_fields()]
        missing = [c for c in id_columns if c not in headers]
        unknown = [h or "(blank)" for h in headers if h not in exported]
        doubled = sorted({h for h in headers if headers.count(h) > 1})
        problems = []
        if missing:
            problems.append(f"Missing column(s): {', '.join(missing)}.")
        if unknown:
            problems.append(f"Unknown column(s): {', '.join(unknown)}.")
        if doubled:
            problems.append(f"Column(s) named twice: {', '.join(doubled)}.")
        if problems:
            problems.append(f"The columns are: {', '.join(known)}.")
        return " ".join(problems)

    def after_import(self, dataset, result, **kwargs):
        # The library resets table sequences after an import; rows here never carry ids, and
        # a reset racing a concurrent insert could hand out a used id. Nothing to do.
        return

    # --- one row

    def get_instance(self, instance_loader, row):
        try:
            return super().get_instance(instance_loader, row)
        except ValueError:
            # An unknown code in a key column: a new record, whose import reports the code.
            return None

    def import_instance(self, instance, row, **kwargs):
        if instance.pk and getattr(instance, "status", None) == RecordStatusChoices.MERGED:
            raise ValidationError(
                f"{instance} was merged into another record; change the surviving record."
            )
        super().import_instance(instance, row, **kwargs)
        if getattr(instance, "status", None) == RecordStatusChoices.MERGED:
            raise ValidationError(
                {"status": "Records are merged with the merge action, not by import."}
            )

    def save_instance(self, instance, is_create, row, **kwargs):
        self.before_save_instance(instance, row, **kwargs)
        actor = kwargs.get("user")
        if actor is None:
            raise HubError("PERMISSION_DENIED", "An import needs the person it acts for.")
        try:
            self.save_through_service(instance, actor=actor, **kwargs)
        except HubError as error:
            raise ValidationError(error.message) from None
        except (IntegrityError, DataError):
            raise ValidationError(
                "This row conflicts with a record already stored (or with an earlier row)."
            ) from None
        self.after_save_instance(instance, row, **kwargs)

    def save_through_service(self, instance, *, actor, **kwargs) -> None:
        record_save(record=instance, actor=actor)

    # --- export

    def filter_export(self, queryset, **kwargs):
        related = [
            f.name for f in self._meta.model._meta.fields if f.many_to_one and f.name in self.fields
        ]
        return queryset.select_related(*related) if related else queryset

    def export_field(self, field, instance, **kwargs):
        return escape_formula(super().export_field(field, instance, **kwargs))


class RecordResource(MasterdataResource):
    """A canonical record, keyed by its code."""

    effective_from = _column("effective_from", DateWidget(), saves_null_values=False)
    effective_to = _column("effective_to", DateWidget())

    class Meta:
        import_id_fields = ("code",)


def _record_resource(model_, *extra: str, **declared):
    class Meta:
        model = model_
        fields = ("code", "name", *extra, "status", "effective_from", "effective_to")
        export_order = fields

    return type(f"{model_.__name__}Resource", (RecordResource,), {"Meta": Meta, **declared})


LegalEntityResource = _record_resource(LegalEntity)
ServiceLineResource = _record_resource(ServiceLine)
FundingSourceResource = _record_resource(FundingSource)
FacilityResource = _record_resource(
    Facility,
    "kind",
    "legal_entity",
    "parent",
    legal_entity=_code_column("legal_entity", LegalEntity),
    parent=_code_column("parent", Facility),
)
DepartmentResource = _record_resource(
    Department, "facility", facility=_code_column("facility", Facility)
)
CostCenterResource = _record_resource(
    CostCenter,
    "legal_entity",
    "department",
    "facility",
    legal_entity=_code_column("legal_entity", LegalEntity),
    department=_code_column("department", Department),
    facility=_code_column("facility", Facility),
)
GLAccountResource = _record_resource(
    GLAccount,
    "account_type",
    "legal_entity",
    legal_entity=_code_column("legal_entity", LegalEntity),
)
SupplierResource = _record_resource(
    Supplier,
    "tax_id",
    "payment_terms",
    "merged_into",
    merged_into=fields.Field(
        attribute="merged_into",
        column_name="merged_into",
        widget=CodeWidget(Supplier),
        readonly=True,
    ),
)
ItemResource = _record_resource(
    Item,
    "gtin",
    "stocking_uom",
    "chargeable",
    "implant",
    "lot_tracked",
    "serial_tracked",
    "charge_code",
    "merged_into",
    stocking_uom=_code_column("stocking_uom", UnitOfMeasure),
    merged_into=fields.Field(
        attribute="merged_into",
        column_name="merged_into",
        widget=CodeWidget(Item),
        readonly=True,
    ),
)


class UnitOfMeasureResource(MasterdataResource):
    class Meta:
        model = UnitOfMeasure
        fields = ("code", "name")
        import_id_fields = ("code",)


class ChargeCodeResource(MasterdataResource):
    """A chargemaster line; one code has a version per start date."""

    effective_from = _column("effective_from", DateWidget(), default=BEGINNING)
    effective_to = _column("effective_to", DateWidget())

    class Meta:
        model = ChargeCode
        fields = (
            "code",
            "effective_from",
            "description",
            "revenue_code",
            "cpt_hcpcs",
            "price",
            "status",
            "effective_to",
        )
        export_order = fields
        import_id_fields = ("code", "effective_from")


class VendorPartResource(MasterdataResource):
    supplier = _code_column("supplier", Supplier)
    item = _code_column("item", Item)
    uom = _code_column("uom", UnitOfMeasure)

    class Meta:
        model = VendorPart
        fields = ("supplier", "part_number", "item", "uom")
        export_order = fields
        import_id_fields = ("supplier", "part_number")


class UomConversionResource(MasterdataResource):
    """A conversion for one item, or (item blank) for every item."""

    item = _code_column("item", Item)
    from_uom = _code_column("from_uom", UnitOfMeasure)
    to_uom = _code_column("to_uom", UnitOfMeasure)

    class Meta:
        model = UomConversion
        fields = ("item", "from_uom", "to_uom", "factor")
        export_order = fields
        import_id_fields = ("item", "from_uom", "to_uom")


# --- Cross-references: every row is a proposal --------------------------------------------------


def find_target(entity_type: str, code: str):
    """The canonical record an entity type's code names (a charge code: the version in
    effect today, else the latest), or None."""
    model = apps.get_model(ENTITY_TYPES[entity_type].model)
    candidates = model.objects.filter(code=code)
    if model is ChargeCode:
        today = timezone.localdate()
        current = (
            candidates.filter(effective_from__lte=today)
            .exclude(effective_to__lt=today)
            .order_by("-effective_from")
            .first()
        )
        return current or candidates.order_by("-effective_from").first()
    return candidates.first()


def approved_to_supersede(*, external_system, entity_type: str, external_code: str, start):
    """The approved mapping of this code that a new one starting on ``start`` replaces."""
    return (
        CrossReference.objects.filter(
            external_system=external_system,
            entity_type=entity_type,
            external_code=external_code,
            status=ApprovalStatusChoices.APPROVED,
        )
        .exclude(effective_to__lt=start)
        .order_by("-effective_from")
        .first()
    )


class CrossReferenceResource(MasterdataResource):
    """Imported rows become drafts through ``crossref_propose``: an import never approves,
    and a row for a code that is mapped already proposes a change to that mapping."""

    external_system = _code_column("external_system", ExternalSystem)
    entity_type = _column("entity_type")
    external_code = _column("external_code")
    target = fields.Field(attribute="target_code", column_name="target", widget=TextWidget())
    effective_from = _column("effective_from", DateWidget())
    effective_to = _column("effective_to", DateWidget())
    note = _column("note")
    status = _column("status", readonly=True)
    proposed_by = fields.Field(
        attribute="created_by__username", column_name="proposed_by", readonly=True
    )
    decided_by = fields.Field(
        attribute="decided_by__username", column_name="decided_by", readonly=True
    )

    class Meta:
        model = CrossReference
        fields = (
            "external_system",
            "entity_type",
            "external_code",
            "target",
            "effective_from",
            "effective_to",
            "note",
            "status",
            "proposed_by",
            "decided_by",
        )
        export_order = fields
        import_id_fields = ()
        force_init_instance = True  # never an update: every row is a new proposal
        skip_unchanged = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._seen: set[tuple] = set()

    def _header_problem(self, dataset) -> str:
        problem = super()._header_problem(dataset)
        required = ["external_system", "entity_type", "external_code", "target"]
        missing = [c for c in required if c not in dataset.headers]
        if missing and not problem:
            known = ", ".join(f.column_name for f in self.get_import_fields())
            problem = f"Missing column(s): {', '.join(missing)}. The columns are: {known}."
        return problem

    def init_instance(self, row=None):
        instance = super().init_instance(row)
        instance.effective_from = None  # a proposal starts today unless the file says when
        return instance

    def dehydrate_target(self, xref):
        target = xref.target
        return target.code if target is not None else ""

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related(
            "external_system", "created_by", "decided_by"
        ).prefetch_related("target")

    def import_instance(self, instance, row, **kwargs):
        errors = {}
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as error:
            errors = error.update_error_dict(errors)
        entity = ENTITY_TYPES.get(instance.entity_type)
        if entity is None and "entity_type" not in errors:
            errors["entity_type"] = [
                f"{instance.entity_type!r} is not an entity type; use one of "
                f"{', '.join(ENTITY_TYPES)}."
            ]
        target_code = getattr(instance, "target_code", "")
        if entity is not None:
            instance._target = find_target(instance.entity_type, target_code)
            if instance._target is None:
                errors["target"] = [
                    f"No {entity.label.lower()} has the code {target_code!r}."
                    if target_code
                    else "Name the canonical code the external code means."
                ]
        if not instance.external_code and "external_code" not in errors:
            errors["external_code"] = ["The external code is empty."]
        if not errors:
            key = (instance.external_system_id, instance.entity_type, instance.external_code)
            if key in self._seen:
                errors["external_code"] = ["An earlier row of this file maps the same code."]
            self._seen.add(key)
        if errors:
            raise ValidationError(errors)

    def skip_row(self, instance, original, row, import_validation_errors=None):
        """A row that asks for nothing new: an approved mapping in effect already says so,
        or the same proposal is already waiting."""
        if import_validation_errors or getattr(instance, "_target", None) is None:
            return False
        same = CrossReference.objects.filter(
            external_system=instance.external_system,
            entity_type=instance.entity_type,
            external_code=instance.external_code,
            content_type__app_label=instance._target._meta.app_label,
            content_type__model=instance._target._meta.model_name,
            object_id=instance._target.pk,
        )
        if instance.effective_to is not None:
            same = same.filter(effective_to=instance.effective_to)
        else:
            same = same.filter(effective_to__isnull=True)
        today = timezone.localdate()
        in_effect = same.filter(
            status=ApprovalStatusChoices.APPROVED,
            effective_from__lte=instance.effective_from or today,
        )
        waiting = same.filter(status=ApprovalStatusChoices.DRAFT)
        if instance.effective_from is not None:
            waiting = waiting.filter(effective_from=instance.effective_from)
        return in_effect.exists() or waiting.exists()

    def save_through_service(self, instance, *, actor, **kwargs) -> None:
        start = instance.effective_from or timezone.localdate()
        draft = crossref_propose(
            actor=actor,
            system=instance.external_system.code,
            entity_type=instance.entity_type,
            external_code=instance.external_code,
            target=instance._target,
            effective_from=start,
            effective_to=instance.effective_to,
            note=instance.note or f"Imported from {kwargs.get('file_name') or 'a file'}",
            supersedes=approved_to_supersede(
                external_system=instance.external_system,
                entity_type=instance.entity_type,
                external_code=instance.external_code,
                start=start,
            ),
        )
        for field in CrossReference._meta.concrete_fields:
            setattr(instance, field.attname, getattr(draft, field.attname))
        instance._state.adding = False
        instance._state.db = draft._state.db


RESOURCES = {
    LegalEntity: LegalEntityResource,
    Facility: FacilityResource,
    Department: DepartmentResource,
    CostCenter: CostCenterResource,
    GLAccount: GLAccountResource,
    ServiceLine: ServiceLineResource,
    FundingSource: FundingSourceResource,
    Supplier: SupplierResource,
    Item: ItemResource,
    UnitOfMeasure: UnitOfMeasureResource,
    ChargeCode: ChargeCodeResource,
    VendorPart: VendorPartResource,
    UomConversion: UomConversionResource,
    CrossReference: CrossReferenceResource,
}
