"""The canonical procure-to-pay documents every format maps to (plain Python, no Django).

X12 850/855/856/810, procurement and inventory JSON and receipt CSV files all become these
dataclasses; matching, business documents and outbound formats read only these. Amounts and
quantities are ``Decimal``; ``to_dict`` gives JSON-safe dicts (decimals as strings, dates as
ISO strings) and ``from_dict`` reads them back, so a stored canonical payload round-trips.
"""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, get_args, get_origin, get_type_hints

PURCHASE_ORDER = "p2p.purchase_order"
PO_ACKNOWLEDGMENT = "p2p.po_acknowledgment"
SHIP_NOTICE = "p2p.ship_notice"
RECEIPT = "p2p.receipt"
INVOICE = "p2p.invoice"


class Canonical:
    """Shared (de)serialisation of the dataclasses below."""

    def to_dict(self) -> dict[str, Any]:
        return _dump(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        return _load(cls, data)


@dataclass
class Party(Canonical):
    """A party named in a document. ``role``: buyer, supplier, ship_to, bill_to, remit_to,
    ship_from. ``id_qualifier``/``id_code`` are as sent (X12 N103/N104, e.g. 92 = assigned by
    buyer); ``code`` is the sender's own code for the party when it has one."""

    role: str
    name: str = ""
    code: str = ""
    id_qualifier: str = ""
    id_code: str = ""
    address: list[str] = field(default_factory=list)
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = ""


@dataclass
class Reference(Canonical):
    """A reference number (X12 REF): qualifier as sent (e.g. ``IA`` vendor number) and value."""

    qualifier: str
    value: str
    description: str = ""


@dataclass
class AllowanceCharge(Canonical):
    """An allowance (``A``, reduces the amount) or charge (``C``, adds) at header or line level
    (X12 SAC/ITA). ``amount`` is always positive; ``indicator`` gives the sign."""

    indicator: str
    amount: Decimal
    code: str = ""
    description: str = ""

    @property
    def signed_amount(self) -> Decimal:
        return -self.amount if self.indicator == "A" else self.amount


@dataclass
class ItemIds(Canonical):
    """How a line names its item. ``others`` keeps identifiers of other kinds as
    ``{qualifier: value}`` (X12 product/service id qualifiers such as ``UP``, ``N4``)."""

    vendor_part: str = ""
    buyer_part: str = ""
    gtin: str = ""
    others: dict[str, str] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not (self.vendor_part or self.buyer_part or self.gtin or self.others)


@dataclass
class Line(Canonical):
    """One line of a PO, acknowledgment, ship notice, receipt or invoice.

    ``line_number`` is the sender's line id (X12 PO101/IT101/ACK line); ``po_line_number`` the
    PO line it refers to when that differs. ``unit`` is the sender's unit code (EA, BX, CA...).
    ``status`` is used by acknowledgments (accepted, changed, rejected, backordered) and
    ``lot``/``serial``/``expiry`` by ship notices and receipts of tracked items.
    """

    line_number: str
    quantity: Decimal
    unit: str
    item: ItemIds = field(default_factory=ItemIds)
    unit_price: Decimal | None = None
    description: str = ""
    amount: Decimal | None = None
    tax_amount: Decimal | None = None
    po_number: str = ""
    po_line_number: str = ""
    status: str = ""
    lot: str = ""
    serial: str = ""
    expiry: datetime.date | None = None
    allowances_charges: list[AllowanceCharge] = field(default_factory=list)

    @property
    def extended_amount(self) -> Decimal | None:
        """The line amount as sent, else quantity times price plus line allowances/charges."""
        if self.amount is not None:
            return self.amount
        if self.unit_price is None:
            return None
        extra = sum((ac.signed_amount for ac in self.allowances_charges), Decimal(0))
        return self.quantity * self.unit_price + extra


@dataclass
class Envelope(Canonical):
    """Where an EDI document came from: interchange and group sender/receiver and control
    numbers. Empty for documents that arrived as JSON or CSV."""

    sender_id: str = ""
    receiver_id: str = ""
    interchange_control: str = ""
    group_control: str = ""
    set_control: str = ""
    version: str = ""


@dataclass
class PurchaseOrder(Canonical):
    """A purchase order (X12 850, procurement JSON). ``purpose``: original, cancel, change,
    replace. ``legal_entity``/``facility``/``cost_center`` are the sender's codes, resolved
    through master data by the flow."""

    document_type: ClassVar[str] = PURCHASE_ORDER

    po_number: str
    po_date: datetime.date | None = None
    purpose: str = "original"
    order_type: str = ""
    currency: str = "USD"
    legal_entity: str = ""
    facility: str = ""
    cost_center: str = ""
    requisition_number: str = ""
    parties: list[Party] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    dates: dict[str, datetime.date] = field(default_factory=dict)
    terms: str = ""
    lines: list[Line] = field(default_factory=list)
    allowances_charges: list[AllowanceCharge] = field(default_factory=list)
    total_amount: Decimal | None = None
    envelope: Envelope = field(default_factory=Envelope)

    @property
    def document_id(self) -> str:
        return self.po_number


@dataclass
class POAcknowledgment(Canonical):
    """A supplier's answer to a PO (X12 855). ``status``: accepted, changed (accepted with
    changes to quantities, prices or dates), rejected. ``ack_type`` is as sent (BAK02)."""

    document_type: ClassVar[str] = PO_ACKNOWLEDGMENT

    po_number: str
    status: str
    ack_type: str = ""
    ack_date: datetime.date | None = None
    ack_number: str = ""
    parties: list[Party] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    envelope: Envelope = field(default_factory=Envelope)

    @property
    def document_id(self) -> str:
        return f"{self.po_number}:{self.ack_number or 'ack'}"


@dataclass
class ShipNotice(Canonical):
    """An advance ship notice (X12 856): one shipment, lines naming their PO and PO line."""

    document_type: ClassVar[str] = SHIP_NOTICE

    shipment_id: str
    ship_date: datetime.date | None = None
    expected_date: datetime.date | None = None
    po_numbers: list[str] = field(default_factory=list)
    carrier: str = ""
    tracking_number: str = ""
    parties: list[Party] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    envelope: Envelope = field(default_factory=Envelope)

    @property
    def document_id(self) -> str:
        return self.shipment_id


@dataclass
class Receipt(Canonical):
    """Goods received against a PO (inventory webhook JSON or receipt CSV)."""

    document_type: ClassVar[str] = RECEIPT

    receipt_id: str
    po_number: str
    received_date: datetime.date | None = None
    facility: str = ""
    lines: list[Line] = field(default_factory=list)

    @property
    def document_id(self) -> str:
        return self.receipt_id


@dataclass
class Invoice(Canonical):
    """A supplier invoice or credit memo (X12 810). ``kind``: invoice or credit_memo.

    ``total_amount`` is what the supplier says is due (X12 TDS01, implied two decimals already
    applied); ``tax_amount`` the header tax (TXI). Credit memos carry positive quantities and
    amounts; ``kind`` gives the sign.
    """

    document_type: ClassVar[str] = INVOICE

    invoice_number: str
    invoice_date: datetime.date | None = None
    po_number: str = ""
    kind: str = "invoice"
    currency: str = "USD"
    parties: list[Party] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    terms: str = ""
    lines: list[Line] = field(default_factory=list)
    allowances_charges: list[AllowanceCharge] = field(default_factory=list)
    tax_amount: Decimal | None = None
    total_amount: Decimal | None = None
    envelope: Envelope = field(default_factory=Envelope)

    @property
    def document_id(self) -> str:
        return self.invoice_number

    def party(self, role: str) -> Party | None:
        return next((p for p in self.parties if p.role == role), None)


DOCUMENTS: dict[str, type[Canonical]] = {
    cls.document_type: cls
    for cls in (PurchaseOrder, POAcknowledgment, ShipNotice, Receipt, Invoice)
}


def document_from_dict(document_type: str, data: dict[str, Any]) -> Canonical:
    return DOCUMENTS[document_type].from_dict(data)


# --- (de)serialisation ---------------------------------------------------------------------


def _dump(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _dump(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, list):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    return value


def _load(cls: type, data: dict[str, Any]) -> Any:
    hints = get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = _load_value(hints[f.name], data[f.name])
    return cls(**kwargs)


def _load_value(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = get_origin(hint)
    args = get_args(hint)
    if origin is list:
        return [_load_value(args[0], v) for v in value]
    if origin is dict:
        return {k: _load_value(args[1], v) for k, v in value.items()}
    if args and type(None) in args:  # X | None
        (inner,) = [a for a in args if a is not type(None)]
        return _load_value(inner, value)
    if dataclasses.is_dataclass(hint):
        return _load(hint, value)
    if hint is Decimal:
        return Decimal(str(value))
    if hint is datetime.date:
        return datetime.date.fromisoformat(value)
    return value
