"""Supplier invoices and credit memos: duplicates, balance, three-way match, AP voucher."""

from dataclasses import asdict
from decimal import Decimal

from django.db.models import F
from django.utils import timezone

from apps.core.errors import HubError
from apps.exceptions.catalogue import codes
from apps.masterdata.lookup import UomKey, uom_factors
from apps.masterdata.services.mappings import tolerance_book
from apps.p2p import canonical as doc
from apps.p2p.choices import InvoiceKindChoices, InvoiceStatusChoices, MatchOutcomeChoices
from apps.p2p.choices import VoucherStatusChoices as VoucherStatus
from apps.p2p.matching import match_invoice
from apps.p2p.models import APVoucher, Invoice, InvoiceLine, PurchaseOrderLine
from apps.p2p.services.common import erp_codes, json_body, money, route
from apps.p2p.services.facts import LimitsBook, header_facts, line_facts, status_of
from apps.p2p.services.orders import po_line_for, purchase_order_locked
from apps.p2p.services.variances import variances_accepted
from apps.pipeline.processors import Applied, Delivery

ERP_VOUCHER = "p2p.ap_voucher.erp"
UNBALANCED_BY = Decimal("0.01")


def invoice_apply(
    invoice: doc.Invoice,
    *,
    supplier_id: int,
    supplier_code: str,
    transaction_id: int,
    correlation_id: str,
    channel: str,
    settings: dict,
) -> Applied:
    """Match an invoice (or credit memo) and, when it matches, queue its AP voucher."""
    kind = (
        InvoiceKindChoices.CREDIT_MEMO
        if invoice.kind == "credit_memo"
        else InvoiceKindChoices.INVOICE
    )
    keys = [("invoice_number", invoice.invoice_number), ("supplier", supplier_code)]
    earlier = Invoice.objects.filter(
        supplier_id=supplier_id, invoice_number=invoice.invoice_number, kind=kind
    ).first()
    if earlier is not None and earlier.source_transaction_id != transaction_id:
        return Applied(
            keys=keys,
            error=HubError(
                codes.DUPLICATE_INVOICE,
                f"Invoice {invoice.invoice_number} from {supplier_code} arrived before "
                f"(through {earlier.channel or 'another channel'}, transaction "
                f"{earlier.source_transaction_id}); it is not paid twice.",
                root_cause_key=f"invoice:{supplier_code}:{invoice.invoice_number}",
                details={"first_transaction_id": earlier.source_transaction_id},
            ),
        )
    if earlier is not None and earlier.status == InvoiceStatusChoices.VOUCHERED:
        return Applied(keys=keys, message="The invoice's voucher is already posted.")

    record = purchase_order_locked(invoice.po_number)
    keys.append(("po_number", record.po_number))
    lines_amount = sum((line.extended_amount or Decimal(0) for line in invoice.lines), Decimal(0))
    charges = sum((ac.signed_amount for ac in invoice.allowances_charges), Decimal(0))
    tax = invoice.tax_amount or Decimal(0)
    total = (
        invoice.total_amount if invoice.total_amount is not None else lines_amount + charges + tax
    )
    if abs(lines_amount + charges + tax - total) > UNBALANCED_BY:
        raise HubError(
            codes.INVOICE_UNBALANCED,
            f"Invoice {invoice.invoice_number}: lines {money(lines_amount)} + charges "
            f"{money(charges)} + tax {money(tax)} do not add up to the total {money(total)}.",
            root_cause_key=f"invoice:{supplier_code}:{invoice.invoice_number}",
        )

    po_lines = {
        line.line_number: line
        for line in record.lines.select_related("item").select_for_update(of=("self",))
    }
    pairs = []
    for line in invoice.lines:
        po_line = po_line_for(po_lines, line)
        if po_line is None:
            named = line.item.vendor_part or line.item.gtin or line.line_number
            raise HubError(
                codes.ITEM_UNKNOWN,
                f"Invoice {invoice.invoice_number} line {line.line_number} ({named}) matches "
                f"no line of PO {record.po_number}.",
                root_cause_key=f"item:{supplier_code}:{named}",
            )
        pairs.append((line, po_line))
    factors = uom_factors([UomKey(p.item_id, line.unit, p.unit) for line, p in pairs])
    for line, po_line in pairs:
        factor = factors[UomKey(po_line.item_id, line.unit, po_line.unit)]
        if isinstance(factor, HubError):
            raise factor

    on = invoice.invoice_date or timezone.localdate()
    book = LimitsBook(tolerance_book(on=on))
    facts = [
        line_facts(
            line_number=line.line_number,
            quantity=line.quantity,
            unit_price=line.unit_price,
            factor=factors[UomKey(po_line.item_id, line.unit, po_line.unit)],
            amount=line.extended_amount,
            tax_amount=line.tax_amount,
            po_line=po_line,
            invoiced_before=po_line.invoiced_quantity,
            limits=book.limits(
                supplier_id=supplier_id, item_id=po_line.item_id, facility_id=record.facility_id
            ),
        )
        for line, po_line in pairs
    ]
    result = match_invoice(
        facts,
        header_facts(
            credit_memo=kind == InvoiceKindChoices.CREDIT_MEMO,
            lines_amount=lines_amount,
            charges_amount=charges,
            tax_amount=tax,
            total_amount=total,
            limits=book.limits(
                supplier_id=supplier_id, item_id=None, facility_id=record.facility_id
            ),
        ),
    )
    # Variances a person accepted (exactly these, as they were) let the invoice match.
    accepted = (
        earlier is not None
        and not result.waiting_for_receipt
        and variances_accepted([asdict(v) for v in result.variances], earlier.accepted_variances)
    )
    status = InvoiceStatusChoices.MATCHED if accepted else status_of(result)
    row, _ = Invoice.objects.update_or_create(
        supplier_id=supplier_id,
        invoice_number=invoice.invoice_number,
        kind=kind,
        defaults={
            "status": status,
            "purchase_order": record,
            "invoice_date": on,
            "currency": invoice.currency,
            "lines_amount": lines_amount,
            "charges_amount": charges,
            "tax_amount": tax,
            "total_amount": total,
            "match_result": result.to_dict(),
            "matched_at": timezone.now() if result.matched or accepted else None,
            "source_transaction_id": transaction_id,
            "channel": channel,
            "correlation_id": correlation_id,
        },
    )
    row.lines.all().delete()
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=row,
            line_number=line.line_number,
            po_line=po_line,
            unit=line.unit,
            quantity=line.quantity,
            unit_price=line.unit_price or Decimal(0),
            amount=line.extended_amount or Decimal(0),
            tax_amount=line.tax_amount or Decimal(0),
            po_unit_quantity=fact.quantity,
            po_unit_price=fact.unit_price,
        )
        for (line, po_line), fact in zip(pairs, facts, strict=True)
    )
    if result.waiting_for_receipt:
        return Applied(
            keys=keys,
            waiting=f"Nothing of PO {record.po_number} has been received yet; the invoice "
            "matches as soon as the receipt arrives.",
        )
    if not result.matched and not accepted:
        first = result.variances[0]
        return Applied(
            keys=keys,
            error=HubError(
                first.code,
                f"Invoice {invoice.invoice_number} does not match PO {record.po_number}: "
                + "; ".join(
                    f"{v.measure} {'line ' + v.line_number if v.line_number else 'total'} "
                    f"{v.actual} against {v.expected} (tolerance {v.tolerance})"
                    for v in result.variances
                ),
                root_cause_key=f"invoice:{supplier_code}:{invoice.invoice_number}",
                details={"variances": [v.__dict__ for v in result.variances]},
            ),
        )
    consumed = earlier is not None and earlier.status == InvoiceStatusChoices.MATCHED
    return _voucher(
        row,
        pairs,
        facts,
        supplier_code=supplier_code,
        settings=settings,
        keys=keys,
        consume=not consumed,
        accepted_by=row.accepted_by.get_username() if accepted else "",
    )


def _voucher(
    row: Invoice, pairs, facts, *, supplier_code, settings, keys, consume, accepted_by=""
) -> Applied:
    """The matched invoice consumes its PO lines (once, however often it is replayed) and
    becomes an AP voucher for the ERP."""
    sign = -1 if row.kind == InvoiceKindChoices.CREDIT_MEMO else 1
    outcome = MatchOutcomeChoices.VARIANCE_ACCEPTED if accepted_by else MatchOutcomeChoices.MATCHED
    for (_, po_line), fact in zip(pairs if consume else [], facts, strict=False):
        PurchaseOrderLine.objects.filter(pk=po_line.pk).update(
            invoiced_quantity=F("invoiced_quantity") + sign * fact.quantity,
            invoiced_amount=F("invoiced_amount") + sign * fact.amount,
        )
    on = row.invoice_date
    record = row.purchase_order
    suppliers = erp_codes("supplier", {row.supplier_id: supplier_code}, on=on)
    entities = erp_codes("legal_entity", {record.legal_entity_id: record.legal_entity.code}, on=on)
    items = erp_codes("item", {p.item_id: p.item.code for _, p in pairs}, on=on)
    suffix = "-CR" if row.kind == InvoiceKindChoices.CREDIT_MEMO else ""
    voucher_id = f"AP-{supplier_code}-{row.invoice_number}{suffix}"[:80]
    body = json_body(
        {
            "voucher_id": voucher_id,
            "invoice_number": row.invoice_number,
            "kind": row.kind,
            "invoice_date": on.isoformat(),
            "po_number": record.po_number,
            "supplier": suppliers[row.supplier_id],
            "legal_entity": entities[record.legal_entity_id],
            "currency": row.currency,
            "lines": [
                {
                    "po_line_number": po_line.line_number,
                    "item": items[po_line.item_id],
                    "quantity": str(line.quantity),
                    "unit_price": str(line.unit_price),
                    "amount": money(line.extended_amount),
                }
                for line, po_line in pairs
            ],
            "charges_amount": money(row.charges_amount),
            "tax_amount": money(row.tax_amount),
            "total_amount": money(row.total_amount),
            "match": {"result": outcome, "accepted_by": accepted_by},
        }
    )
    APVoucher.objects.update_or_create(
        invoice=row,
        defaults={
            "voucher_id": voucher_id,
            "status": VoucherStatus.QUEUED,
            "amount": row.total_amount,
            "match_outcome": outcome,
        },
    )
    erp = route(settings, "erp_vouchers")
    return Applied(
        deliveries=[Delivery(erp, ERP_VOUCHER, voucher_id, 1, body)],
        keys=[*keys, ("voucher_id", voucher_id)],
        message=f"Invoice {row.invoice_number} matched PO {record.po_number}; AP voucher "
        f"{voucher_id} goes to the ERP.",
    )


def vouchers_posted(deliveries: list) -> list:
    """The ERP accepted these vouchers: the invoices are done."""
    for view in deliveries:
        voucher = APVoucher.objects.filter(voucher_id=view.document_id).first()
        if voucher is None:
            continue
        voucher.status = VoucherStatus.POSTED
        voucher.erp_reference = view.reference[:60]
        voucher.save(update_fields=["status", "erp_reference", "updated_at"])
        Invoice.objects.filter(pk=voucher.invoice_id).update(status=InvoiceStatusChoices.VOUCHERED)
    return []


def invoices_reject(*, transaction_ids: list[int]) -> int:
    """Mark the unmatched invoices of transactions a person rejected: they are never matched,
    woken by a receipt or paid. A matched invoice consumed its PO lines and is left alone."""
    return Invoice.objects.filter(
        source_transaction_id__in=transaction_ids,
        status__in=[InvoiceStatusChoices.EXCEPTION, InvoiceStatusChoices.WAITING_RECEIPT],
    ).update(status=InvoiceStatusChoices.REJECTED, updated_at=timezone.now())
