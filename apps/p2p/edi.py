"""Procure-to-pay over X12: the 850 a supplier that trades by EDI is sent once the ERP has
the order, and what suppliers send back read into canonical documents."""

import re

from django.utils import timezone

from apps.core.errors import HubError
from apps.edi.models import TradingPartner
from apps.edi.services import X12_SYSTEM, controls_next
from apps.edi.x12 import X12Error, map_interchange, purchase_order_to_850, read_interchange
from apps.masterdata.lookup import LookupKey, outbound_codes
from apps.p2p import canonical as doc
from apps.p2p.models import PurchaseOrder
from apps.p2p.services.common import resolve_all
from apps.pipeline.processors import Delivery

ORDER_850 = "x12.850"
# Free text may not carry X12 delimiters; partners' parsers would split on them.
_DELIMITERS = re.compile(r"[*~:^|>\n\r]")


def _text(value: str, limit: int = 80) -> str:
    return _DELIMITERS.sub(" ", value)[:limit].strip()


def partner_of(supplier_id: int) -> TradingPartner | None:
    """The trading partner master data says the supplier is (system X12), if it has one."""
    codes = outbound_codes(
        system=X12_SYSTEM,
        entity_type="supplier",
        record_ids=[supplier_id],
        on=timezone.localdate(),
    )
    if supplier_id not in codes:
        return None
    qualifier, _, isa_id = codes[supplier_id].partition(":")
    return TradingPartner.objects.filter(
        isa_qualifier=qualifier, isa_id=isa_id, enabled=True, outbound__isnull=False
    ).first()


def order_to_supplier(record: PurchaseOrder) -> Delivery | None:
    """The 850 for the order's supplier, or None when the supplier does not trade by EDI
    (the ERP sends such orders itself)."""
    partner = partner_of(record.supplier_id)
    if partner is None:
        return None
    facility = record.facility
    po = doc.PurchaseOrder(
        po_number=record.po_number,
        po_date=record.po_date,
        currency=record.currency,
        parties=[
            doc.Party(role="buyer", name=_text(record.legal_entity.name, 60)),
            doc.Party(
                role="ship_to",
                name=_text(facility.name, 60) if facility else "",
                id_qualifier="92" if facility else "",
                id_code=facility.code if facility else "",
            ),
        ],
        lines=[
            doc.Line(
                line_number=line.line_number,
                quantity=line.quantity.normalize(),
                unit=line.unit,
                unit_price=line.unit_price.normalize(),
                item=doc.ItemIds(
                    vendor_part=_text(line.vendor_part, 48),
                    buyer_part=_text(line.item.code, 48),
                    gtin=line.gtin,
                ),
                description=_text(line.description),
            )
            for line in record.lines.select_related("item")
        ],
        total_amount=record.total_amount,
    )
    controls = controls_next(partner)
    body = purchase_order_to_850(
        po,
        sender_id=partner.our_isa_id,
        receiver_id=partner.isa_id,
        sender_qualifier=partner.our_isa_qualifier,
        receiver_qualifier=partner.isa_qualifier,
        interchange_control=controls.interchange,
        group_control=controls.group,
        version=partner.version,
        usage=partner.usage,
    )
    return Delivery(
        partner.outbound_id, ORDER_850, record.po_number, record.revision, body.encode(), "x12"
    )


def read_supplier_document(raw: bytes) -> tuple[doc.Canonical, int, str]:
    """A supplier's transaction set (a child of its interchange): the canonical document and
    the supplier it comes from, resolved from the interchange sender through master data."""
    try:
        interchange = read_interchange(raw)
        map_interchange(interchange)
    except X12Error as error:
        raise HubError(error.code, error.message, details=error.to_dict()) from None
    (tx,) = interchange.transaction_sets
    if tx.error is not None:
        raise HubError(tx.error.code, tx.error.message, details=tx.error.to_dict())
    code = f"{interchange.sender_qualifier}:{interchange.sender_id}"
    key = LookupKey(X12_SYSTEM, "supplier", code)
    document = tx.document
    on = (
        getattr(document, "invoice_date", None)
        or getattr(document, "ack_date", None)
        or getattr(document, "ship_date", None)
        or timezone.localdate()
    )
    try:
        supplier = resolve_all([key], on=on)[key]
    except HubError as error:
        error.details["context"] = {"supplier": code, "document": document.document_id}
        raise
    return document, supplier.record_id, supplier.code
