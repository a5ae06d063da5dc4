"""Goods receipts: received quantities on the PO lines, posted to the ERP, and the invoices
that waited for them woken to match again."""

from apps.core.errors import HubError
from apps.exceptions.catalogue import codes
from apps.masterdata.lookup import UomKey, uom_factors
from apps.p2p import canonical as doc
from apps.p2p.choices import InvoiceStatusChoices
from apps.p2p.choices import PurchaseOrderStatusChoices as Status
from apps.p2p.models import Invoice, Receipt, ReceiptLine
from apps.p2p.services.common import erp_codes, json_body, number, route
from apps.p2p.services.orders import po_line_for, purchase_order_locked
from apps.pipeline.processors import Applied, Delivery

ERP_RECEIPT = "p2p.receipt.erp"
# Invoices that a new receipt may unblock: those waiting for it, and those stopped because
# more was invoiced than had been received.
_WAKEABLE = (InvoiceStatusChoices.WAITING_RECEIPT, InvoiceStatusChoices.EXCEPTION)


def receipt_apply(receipt: doc.Receipt, *, transaction_id: int, settings: dict) -> Applied:
    """Record a receipt once (a replay of the same transaction records it afresh)."""
    record = purchase_order_locked(receipt.po_number)
    existing = Receipt.objects.filter(receipt_id=receipt.receipt_id).first()
    if existing is not None and existing.source_transaction_id != transaction_id:
        return Applied(message=f"Receipt {receipt.receipt_id} was already recorded.")
    lines = {
        line.line_number: line
        for line in record.lines.select_related("item").select_for_update(of=("self",))
    }
    matched = []
    for line in receipt.lines:
        po_line = po_line_for(lines, line)
        if po_line is None:
            raise HubError(
                codes.ASN_RECEIPT_MISMATCH,
                f"Receipt {receipt.receipt_id} names "
                f"{line.po_line_number or line.item.vendor_part!r}, which is not on PO "
                f"{record.po_number}.",
                root_cause_key=f"po:{record.po_number}",
            )
        matched.append((line, po_line))
    factors = uom_factors([UomKey(p.item_id, line.unit, p.unit) for line, p in matched])
    for line, po_line in matched:
        factor = factors[UomKey(po_line.item_id, line.unit, po_line.unit)]
        if isinstance(factor, HubError):
            raise factor
    if existing is not None:
        for old in existing.lines.all():
            po_line = lines.get(old.po_line.line_number)
            po_line.received_quantity -= old.quantity
        existing.delete()
    receipt_row = Receipt.objects.create(
        receipt_id=receipt.receipt_id,
        purchase_order=record,
        received_date=receipt.received_date,
        source_transaction_id=transaction_id,
    )
    over = []
    for line, po_line in matched:
        quantity = line.quantity * factors[UomKey(po_line.item_id, line.unit, po_line.unit)]
        ReceiptLine.objects.create(
            receipt=receipt_row,
            po_line=po_line,
            quantity=quantity,
            lot=line.lot,
            serial=line.serial,
            expiry=line.expiry,
        )
        po_line.received_quantity += quantity
        if po_line.received_quantity > po_line.quantity:
            over.append(po_line.line_number)
    for po_line in lines.values():
        po_line.save(update_fields=["received_quantity"])
    complete = all(p.received_quantity >= p.quantity for p in lines.values())
    record.status = Status.RECEIVED if complete else Status.PARTLY_RECEIVED
    record.save(update_fields=["status", "updated_at"])

    on = receipt.received_date
    items = erp_codes("item", {p.item_id: p.item.code for _, p in matched}, on=on)
    body = json_body(
        {
            "receipt_id": receipt.receipt_id,
            "po_number": record.po_number,
            "facility": receipt.facility,
            "received_date": on.isoformat(),
            "lines": [
                {
                    "po_line_number": p.line_number,
                    "item": items[p.item_id],
                    "quantity": number(
                        line.quantity * factors[UomKey(p.item_id, line.unit, p.unit)]
                    ),
                    "unit": p.unit,
                }
                for line, p in matched
            ],
        }
    )
    erp = route(settings, "erp_receipts")
    waiting = list(
        Invoice.objects.filter(purchase_order=record, status__in=_WAKEABLE).values_list(
            "source_transaction_id", flat=True
        )
    )
    error = None
    if over:
        error = HubError(
            codes.OVER_RECEIPT,
            f"Receipt {receipt.receipt_id} brings line(s) {', '.join(over)} of PO "
            f"{record.po_number} above the ordered quantity.",
            root_cause_key=f"po:{record.po_number}",
        )
    return Applied(
        deliveries=[Delivery(erp, ERP_RECEIPT, receipt.receipt_id, 1, body)],
        keys=[("po_number", record.po_number), ("receipt_id", receipt.receipt_id)],
        wake=waiting,
        error=error,
        message=f"Receipt {receipt.receipt_id} recorded against PO {record.po_number}"
        + (f"; {len(waiting)} waiting invoice(s) will match again." if waiting else "."),
    )
