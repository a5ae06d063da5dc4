"""The simulated ERP: purchase orders, goods receipts and AP vouchers, validated as an ERP would.

A posting is accepted once per idempotency key (the same key and body again is a replay that
answers with the same id; the key with another body is refused) and once per document number
and revision. Validation refuses with the ERP's own codes, checked in a fixed order so a test
can aim at each one:

    MISSING_FIELD, INVALID_NUMBER, INVALID_VALUE (dates, enumerations, over-long numbers),
    NO_LINES, LINE_AMOUNT_MISMATCH, TOTAL_MISMATCH, PERIOD_CLOSED (vouchers), PO_NOT_FOUND
    (receipts), then DUPLICATE_DOCUMENT.

The closed period ends on HUBCONSOLE_SANDBOX_ERP_CLOSED_BEFORE (YYYY-MM-DD); by default on the
first day of the previous month, so last month is still open and the month before is closed.
"""

import datetime
import hashlib
import json
import os
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import F

from apps.sandbox.choices import ErpDocumentKindChoices as Kind
from apps.sandbox.models import SandboxErpDocument

CLOSED_BEFORE_ENV = "HUBCONSOLE_SANDBOX_ERP_CLOSED_BEFORE"
CENT = Decimal("0.01")
NUMBER_MAX_LENGTH = SandboxErpDocument._meta.get_field("number").max_length


class ErpRejected(Exception):
    """The ERP refused the document (HTTP 422); nothing was stored."""

    def __init__(self, code: str, message: str, field: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "field": self.field}


@dataclass(frozen=True)
class ErpAnswer:
    erp_id: str
    status: str
    replayed: bool


@dataclass(frozen=True)
class DocumentSpec:
    """What one kind of ERP document must carry."""

    kind: str
    id_prefix: str
    status: str  # the status the ERP reports for an accepted document
    number_field: str
    required: tuple[str, ...]
    line_required: tuple[str, ...]
    numbers: tuple[str, ...] = ()  # header decimals
    line_numbers: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()


SPECS = {
    Kind.PURCHASE_ORDER: DocumentSpec(
        kind=Kind.PURCHASE_ORDER,
        id_prefix="PO",
        status="open",
        number_field="po_number",
        required=(
            "po_number",
            "revision",
            "legal_entity",
            "facility",
            "cost_center",
            "supplier",
            "currency",
            "po_date",
            "lines",
            "total_amount",
        ),
        line_required=("line_number", "item", "quantity", "unit", "unit_price", "amount"),
        numbers=("total_amount",),
        line_numbers=("quantity", "unit_price", "amount"),
        dates=("po_date",),
    ),
    Kind.RECEIPT: DocumentSpec(
        kind=Kind.RECEIPT,
        id_prefix="GR",
        status="posted",
        number_field="receipt_id",
        required=("receipt_id", "po_number", "facility", "received_date", "lines"),
        line_required=("po_line_number", "item", "quantity", "unit"),
        line_numbers=("quantity",),
        dates=("received_date",),
    ),
    Kind.AP_VOUCHER: DocumentSpec(
        kind=Kind.AP_VOUCHER,
        id_prefix="AP",
        status="posted",
        number_field="voucher_id",
        required=(
            "voucher_id",
            "invoice_number",
            "kind",
            "invoice_date",
            "po_number",
            "supplier",
            "legal_entity",
            "currency",
            "lines",
            "total_amount",
            "match",
        ),
        line_required=("po_line_number", "item", "quantity", "unit_price", "amount"),
        numbers=("charges_amount", "tax_amount", "total_amount"),
        line_numbers=("quantity", "unit_price", "amount"),
        dates=("invoice_date",),
    ),
}
VOUCHER_KINDS = ("invoice", "credit_memo")
MATCH_RESULTS = ("matched", "variance_accepted")


def erp_closed_before(*, today: datetime.date | None = None) -> datetime.date:
    """The first open day: vouchers dated before it fall into a closed period."""
    configured = os.environ.get(CLOSED_BEFORE_ENV, "").strip()
    if configured:
        return datetime.date.fromisoformat(configured)
    today = today or datetime.date.today()
    last_month_end = today.replace(day=1) - datetime.timedelta(days=1)
    return last_month_end.replace(day=1)


# --- Validation ---------------------------------------------------------------------------------


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _decimal(value, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ErpRejected("INVALID_NUMBER", f"{field} must be a decimal number.", field)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ErpRejected("INVALID_NUMBER", f"{field} must be a decimal number.", field) from None
    if not number.is_finite():
        raise ErpRejected("INVALID_NUMBER", f"{field} must be a decimal number.", field)
    if number < 0:
        raise ErpRejected("INVALID_NUMBER", f"{field} must not be negative.", field)
    return number


def _revision(body: dict) -> int:
    revision = body["revision"]
    if isinstance(revision, str) and revision.strip().isdecimal():
        revision = int(revision)
    if isinstance(revision, bool) or not isinstance(revision, int) or revision < 1:
        raise ErpRejected("INVALID_NUMBER", "revision must be a whole number from 1.", "revision")
    return revision


def _lines(body: dict) -> list:
    lines = body.get("lines")
    if not isinstance(lines, list) or not all(isinstance(line, dict) for line in lines):
        raise ErpRejected("INVALID_VALUE", "lines must be a list of objects.", "lines")
    return lines


def _check_missing(spec: DocumentSpec, body: dict) -> None:
    for name in spec.required:
        if _blank(body.get(name)):
            raise ErpRejected("MISSING_FIELD", f"{name} is required.", name)
    for n, line in enumerate(_lines(body)):
        for name in spec.line_required:
            if _blank(line.get(name)):
                field = f"lines[{n}].{name}"
                raise ErpRejected("MISSING_FIELD", f"{field} is required.", field)
    if spec.kind == Kind.AP_VOUCHER:
        match = body["match"]
        if not isinstance(match, dict):
            raise ErpRejected("INVALID_VALUE", "match must be an object.", "match")
        if _blank(match.get("result")):
            raise ErpRejected("MISSING_FIELD", "match.result is required.", "match.result")
        if match["result"] == "variance_accepted" and _blank(match.get("accepted_by")):
            raise ErpRejected(
                "MISSING_FIELD",
                "match.accepted_by is required when a variance was accepted.",
                "match.accepted_by",
            )


def _check_formats(spec: DocumentSpec, body: dict) -> dict[str, Decimal]:
    """Numbers, then dates and enumerations; returns the header decimals (missing ones 0)."""
    if spec.kind == Kind.PURCHASE_ORDER:
        _revision(body)
    header = {
        name: _decimal(body[name], name) if not _blank(body.get(name)) else Decimal(0)
        for name in spec.numbers
    }
    for n, line in enumerate(body["lines"]):
        for name in spec.line_numbers:
            _decimal(line[name], f"lines[{n}].{name}")
    for name in spec.dates:
        try:
            datetime.date.fromisoformat(str(body[name]))
        except ValueError:
            raise ErpRejected(
                "INVALID_VALUE", f"{name} must be a date (YYYY-MM-DD).", name
            ) from None
    number = str(body[spec.number_field])
    if len(number) > NUMBER_MAX_LENGTH:
        raise ErpRejected(
            "INVALID_VALUE",
            f"{spec.number_field} is longer than {NUMBER_MAX_LENGTH} characters.",
            spec.number_field,
        )
    if spec.kind == Kind.AP_VOUCHER:
        if body["kind"] not in VOUCHER_KINDS:
            raise ErpRejected("INVALID_VALUE", f"kind must be one of {VOUCHER_KINDS}.", "kind")
        if body["match"]["result"] not in MATCH_RESULTS:
            raise ErpRejected(
                "INVALID_VALUE", f"match.result must be one of {MATCH_RESULTS}.", "match.result"
            )
    return header


def _check_amounts(spec: DocumentSpec, body: dict, header: dict[str, Decimal]) -> None:
    if "amount" not in spec.line_numbers:
        return
    lines_total = Decimal(0)
    for n, line in enumerate(body["lines"]):
        quantity = Decimal(str(line["quantity"]).strip())
        price = Decimal(str(line["unit_price"]).strip())
        amount = Decimal(str(line["amount"]).strip())
        expected = (quantity * price).quantize(CENT, rounding=ROUND_HALF_UP)
        if amount != expected:
            raise ErpRejected(
                "LINE_AMOUNT_MISMATCH",
                f"lines[{n}].amount {amount} is not quantity {quantity} x unit price {price} "
                f"= {expected}.",
                f"lines[{n}].amount",
            )
        lines_total += amount
    expected_total = lines_total + header.get("charges_amount", 0) + header.get("tax_amount", 0)
    if header["total_amount"] != expected_total:
        what = "lines + charges + tax" if spec.kind == Kind.AP_VOUCHER else "the sum of the lines"
        raise ErpRejected(
            "TOTAL_MISMATCH",
            f"total_amount {header['total_amount']} is not {what} = {expected_total}.",
            "total_amount",
        )


def erp_document_validate(*, kind: str, body: dict) -> None:
    """Raise ErpRejected with the first rule ``body`` breaks, in the documented order."""
    spec = SPECS[kind]
    _check_missing(spec, body)
    header = _check_formats(spec, body)
    if not body["lines"]:
        raise ErpRejected("NO_LINES", "The document has no lines.", "lines")
    _check_amounts(spec, body, header)
    if kind == Kind.AP_VOUCHER:
        closed_before = erp_closed_before()
        if datetime.date.fromisoformat(body["invoice_date"]) < closed_before:
            raise ErpRejected(
                "PERIOD_CLOSED",
                f"The period of {body['invoice_date']} is closed; "
                f"the first open day is {closed_before}.",
                "invoice_date",
            )
    if kind == Kind.RECEIPT:
        po_number = str(body["po_number"])
        if not SandboxErpDocument.objects.filter(
            kind=Kind.PURCHASE_ORDER, number=po_number
        ).exists():
            raise ErpRejected("PO_NOT_FOUND", f"The ERP holds no PO {po_number}.", "po_number")


# --- Posting ------------------------------------------------------------------------------------


def _sha256(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _replay(document: SandboxErpDocument, sha: str) -> ErpAnswer:
    if document.body_sha256 != sha:
        raise ErpRejected(
            "IDEMPOTENCY_KEY_REUSED",
            f"Idempotency-Key already used for {document.erp_id} with another body.",
        )
    SandboxErpDocument.objects.filter(pk=document.pk).update(replays=F("replays") + 1)
    return ErpAnswer(document.erp_id, SPECS[document.kind].status, replayed=True)


def _duplicate(spec: DocumentSpec, body: dict, number: str, revision: int) -> None:
    held = SandboxErpDocument.objects.filter(kind=spec.kind)
    if held.filter(number=number, revision=revision).exists():
        raise ErpRejected(
            "DUPLICATE_DOCUMENT",
            f"The ERP already holds {spec.number_field} {number} revision {revision}.",
            spec.number_field,
        )
    # As real ERPs do: one supplier's invoice number is vouchered once per kind.
    if (
        spec.kind == Kind.AP_VOUCHER
        and held.filter(
            body__supplier=body["supplier"],
            body__invoice_number=body["invoice_number"],
            body__kind=body["kind"],
        ).exists()
    ):
        raise ErpRejected(
            "DUPLICATE_DOCUMENT",
            f"Invoice {body['invoice_number']} of supplier {body['supplier']} is already "
            "vouchered.",
            "invoice_number",
        )


def erp_document_post(*, kind: str, idempotency_key: str, body: dict) -> ErpAnswer:
    """Accept ``body`` once: a replay answers with the stored id, a refusal raises ErpRejected."""
    spec = SPECS[kind]
    sha = _sha256(body)
    held = SandboxErpDocument.objects.filter(kind=kind, idempotency_key=idempotency_key).first()
    if held is not None:
        return _replay(held, sha)
    erp_document_validate(kind=kind, body=body)
    number = str(body[spec.number_field])
    revision = _revision(body) if kind == Kind.PURCHASE_ORDER else 1
    _duplicate(spec, body, number, revision)
    try:
        with transaction.atomic():
            document = SandboxErpDocument.objects.create(
                kind=kind,
                number=number,
                revision=revision,
                idempotency_key=idempotency_key,
                body_sha256=sha,
                body=body,
            )
            document.erp_id = f"ERP-{spec.id_prefix}-{document.pk:06d}"
            document.save(update_fields=["erp_id"])
    except IntegrityError:
        # A concurrent request with the same key or number won the insert.
        held = SandboxErpDocument.objects.filter(kind=kind, idempotency_key=idempotency_key).first()
        if held is not None:
            return _replay(held, sha)
        _duplicate(spec, body, number, revision)
        raise
    return ErpAnswer(document.erp_id, spec.status, replayed=False)


def erp_document_list(*, kind: str, number: str = "", limit: int = 1000) -> list[dict]:
    """What the ERP accepted of ``kind``, oldest first (vouchers also match by invoice number)."""
    documents = SandboxErpDocument.objects.filter(kind=kind).order_by("id")
    if number:
        if kind == Kind.AP_VOUCHER:
            documents = documents.filter(number=number) | documents.filter(
                body__invoice_number=number
            )
        else:
            documents = documents.filter(number=number)
    return [
        {
            "id": d.erp_id,
            "number": d.number,
            "revision": d.revision,
            "status": SPECS[kind].status,
            "idempotency_key": d.idempotency_key,
            "replays": d.replays,
            "created_at": d.created_at.isoformat(),
            "body": d.body,
        }
        for d in documents[:limit]
    ]
