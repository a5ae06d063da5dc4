"""Procurement and inventory JSON and receipt CSV files to canonical documents (plain Python).

Every problem is a ``FormatError`` with the product's code (SCHEMA_INVALID or PARSE_ERROR) and
the field it concerns, so the sender can be told exactly what to fix.
"""

import csv
import datetime
import io
from decimal import Decimal, InvalidOperation

from apps.p2p.canonical import ItemIds, Line, Party, PurchaseOrder, Receipt

MAX_LINES = 5000
RECEIPT_COLUMNS = (
    "receipt_id",
    "po_number",
    "facility",
    "received_date",
    "po_line_number",
    "item",
    "quantity",
    "unit",
    "lot",
    "serial",
    "expiry",
)


class FormatError(Exception):
    def __init__(self, code: str, message: str, *, field: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def _text(document: dict, name: str, *, required: bool = True, limit: int = 120) -> str:
    value = document.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise FormatError("SCHEMA_INVALID", f"{name} is required.", field=name)
        return ""
    if isinstance(value, (dict, list, bool)):
        raise FormatError("SCHEMA_INVALID", f"{name} must be text.", field=name)
    value = str(value).strip()
    if len(value) > limit:
        raise FormatError("SCHEMA_INVALID", f"{name} is longer than {limit}.", field=name)
    return value


def _decimal(document: dict, name: str, *, required: bool = True, positive: bool = False):
    value = document.get(name)
    if value is None or value == "":
        if required:
            raise FormatError("SCHEMA_INVALID", f"{name} is required.", field=name)
        return None
    if isinstance(value, (bool, dict, list)):
        raise FormatError("SCHEMA_INVALID", f"{name} must be a number.", field=name)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise FormatError(
            "SCHEMA_INVALID", f"{name} {str(value)[:40]!r} is not a number.", field=name
        ) from None
    if not number.is_finite() or abs(number) >= Decimal("1e10"):
        raise FormatError("SCHEMA_INVALID", f"{name} is out of range.", field=name)
    if positive and number <= 0:
        raise FormatError("SCHEMA_INVALID", f"{name} must be more than zero.", field=name)
    if number < 0:
        raise FormatError("SCHEMA_INVALID", f"{name} may not be negative.", field=name)
    return number


def _date(document: dict, name: str, *, required: bool = True) -> datetime.date | None:
    value = _text(document, name, required=required, limit=40)
    if not value:
        return None
    try:
        return datetime.date.fromisoformat(value[:10])
    except ValueError:
        raise FormatError(
            "SCHEMA_INVALID", f"{name} {value!r} is not a date (YYYY-MM-DD).", field=name
        ) from None


def _lines(document: dict) -> list[dict]:
    lines = document.get("lines")
    if not isinstance(lines, list) or not lines:
        raise FormatError("SCHEMA_INVALID", "lines must be a non-empty list.", field="lines")
    if len(lines) > MAX_LINES:
        raise FormatError("SCHEMA_INVALID", f"More than {MAX_LINES} lines.", field="lines")
    for index, line in enumerate(lines, start=1):
        if not isinstance(line, dict):
            raise FormatError("SCHEMA_INVALID", f"line {index} must be an object.", field="lines")
    return lines


def _in_line(error: FormatError, index: int) -> FormatError:
    return FormatError(error.code, f"line {index}: {error.message}", field=f"lines.{error.field}")


def purchase_order_from_json(document: dict) -> PurchaseOrder:
    """A procurement system's purchase order (see docs/procure-to-pay.md for the contract)."""
    po = PurchaseOrder(
        po_number=_text(document, "po_number", limit=60),
        po_date=_date(document, "po_date"),
        legal_entity=_text(document, "legal_entity"),
        facility=_text(document, "facility", required=False),
        cost_center=_text(document, "cost_center"),
        currency=_text(document, "currency", required=False, limit=3) or "USD",
        requisition_number=_text(document, "requisition_number", required=False, limit=60),
        parties=[],
    )
    supplier = _text(document, "supplier")
    po.parties.append(Party(role="supplier", code=supplier))
    revision = document.get("revision", 1)
    if isinstance(revision, bool) or not isinstance(revision, int) or revision < 1:
        raise FormatError(
            "SCHEMA_INVALID", "revision must be a positive whole number.", field="revision"
        )
    seen = set()
    for index, line in enumerate(_lines(document), start=1):
        try:
            number = _text(line, "line_number", limit=20) if "line_number" in line else str(index)
            if number in seen:
                raise FormatError("SCHEMA_INVALID", f"line number {number} repeats.", field="")
            seen.add(number)
            po.lines.append(
                Line(
                    line_number=number,
                    quantity=_decimal(line, "quantity", positive=True),
                    unit=_text(line, "unit", limit=10).upper(),
                    unit_price=_decimal(line, "unit_price"),
                    item=ItemIds(
                        vendor_part=_text(line, "vendor_part", required=False, limit=60),
                        buyer_part=_text(line, "item"),
                        gtin=_text(line, "gtin", required=False, limit=14),
                    ),
                    description=_text(line, "description", required=False, limit=300),
                )
            )
        except FormatError as error:
            raise _in_line(error, index) from None
    po.total_amount = sum((line.extended_amount for line in po.lines), Decimal(0))
    return po


def receipt_from_json(document: dict) -> Receipt:
    """An inventory system's goods receipt."""
    receipt = Receipt(
        receipt_id=_text(document, "receipt_id", limit=60),
        po_number=_text(document, "po_number", limit=60),
        received_date=_date(document, "received_date"),
        facility=_text(document, "facility", required=False),
    )
    for index, line in enumerate(_lines(document), start=1):
        try:
            receipt.lines.append(
                Line(
                    line_number=str(index),
                    po_line_number=_text(line, "po_line_number", required=False, limit=20),
                    quantity=_decimal(line, "quantity", positive=True),
                    unit=_text(line, "unit", limit=10).upper(),
                    item=ItemIds(vendor_part=_text(line, "item", required=False, limit=60)),
                    lot=_text(line, "lot", required=False, limit=60),
                    serial=_text(line, "serial", required=False, limit=60),
                    expiry=_date(line, "expiry", required=False),
                )
            )
        except FormatError as error:
            raise _in_line(error, index) from None
    return receipt


def receipts_from_csv(raw: bytes) -> list[dict]:
    """Receipt CSV (one row per line, header row required) as JSON receipt documents, one per
    receipt_id, in file order; rows are checked when each receipt is processed."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise FormatError("PARSE_ERROR", f"The file is not UTF-8 text ({error}).") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in RECEIPT_COLUMNS[:7] if name not in header]
    if missing:
        raise FormatError(
            "SCHEMA_INVALID", f"The header row lacks the column(s) {', '.join(missing)}."
        )
    receipts: dict[str, dict] = {}
    try:
        for number, row in enumerate(reader, start=2):
            row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
            if not any(row.values()):
                continue
            receipt_id = row.get("receipt_id", "")
            if not receipt_id:
                raise FormatError("SCHEMA_INVALID", f"row {number}: receipt_id is empty.")
            document = receipts.setdefault(
                receipt_id,
                {
                    "receipt_id": receipt_id,
                    "po_number": row.get("po_number", ""),
                    "facility": row.get("facility", ""),
                    "received_date": row.get("received_date", ""),
                    "lines": [],
                },
            )
            document["lines"].append({name: row.get(name, "") for name in RECEIPT_COLUMNS[4:]})
    except csv.Error as error:
        raise FormatError("PARSE_ERROR", f"The CSV is malformed: {error}") from None
    if not receipts:
        raise FormatError("SCHEMA_INVALID", "The file holds no receipt rows.")
    return list(receipts.values())
