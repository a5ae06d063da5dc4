"""Procure-to-pay queries for screens: an invoice beside its PO and receipts."""

from dataclasses import dataclass, field
from decimal import Decimal

from apps.p2p.models import Invoice, ReceiptLine
from apps.p2p.services.variances import ACCEPT_PERMISSION, authority_of, variance_amount


def _plain(value: Decimal) -> str:
    """12.5 rather than 12.5000: quantities and prices as a person writes them."""
    return f"{value.normalize():f}"


@dataclass
class MatchRow:
    """One invoice line beside its PO line and what was received, for the match screen
    (figures as display text)."""

    line_number: str
    item: str
    description: str
    po_quantity: str
    po_price: str
    received: str
    invoiced_before: str
    quantity: str
    unit: str
    unit_price: str
    amount: str
    variances: list[str] = field(default_factory=list)


@dataclass
class MatchContext:
    invoice: Invoice
    rows: list[MatchRow]
    variances: list[dict]
    receipts: list[dict]
    variance_amount: Decimal
    can_accept: bool
    authority: Decimal | None


def invoice_match_context(*, transaction_id: int, user) -> MatchContext | None:
    """The invoice a transaction carried, side by side with its PO lines and receipts, and
    whether ``user`` may accept its variances."""
    invoice = (
        Invoice.objects.select_related("purchase_order", "supplier", "accepted_by")
        .filter(source_transaction_id=transaction_id)
        .first()
    )
    if invoice is None:
        return None
    result = invoice.match_result or {}
    by_line = {row["line_number"]: row for row in result.get("lines", [])}
    rows = []
    for line in invoice.lines.select_related("po_line__item").order_by("id"):
        po_line = line.po_line
        matched = by_line.get(line.line_number, {})
        rows.append(
            MatchRow(
                line_number=line.line_number,
                item=po_line.item.code if po_line else "",
                description=po_line.description if po_line else "",
                po_quantity=_plain(po_line.quantity) if po_line else "",
                po_price=_plain(po_line.unit_price) if po_line else "",
                received=_plain(po_line.received_quantity) if po_line else "",
                invoiced_before=_plain(Decimal(matched.get("invoiced_before", "0"))),
                quantity=_plain(line.quantity),
                unit=line.unit,
                unit_price=_plain(line.unit_price),
                amount=str(line.amount),
                variances=matched.get("variances", []),
            )
        )
    receipts = list(
        ReceiptLine.objects.filter(receipt__purchase_order=invoice.purchase_order)
        .values("receipt__receipt_id", "receipt__received_date", "po_line__line_number", "quantity")
        .order_by("receipt__received_date", "receipt__receipt_id")
    )
    variances = result.get("variances", [])
    may_accept = bool(variances) and invoice.status == "exception"
    authority = authority_of(user) if user.has_perm(ACCEPT_PERMISSION) else Decimal(0)
    amount = variance_amount(invoice) if variances else Decimal(0)
    return MatchContext(
        invoice=invoice,
        rows=rows,
        variances=variances,
        receipts=receipts,
        variance_amount=amount,
        can_accept=may_accept
        and user.has_perm(ACCEPT_PERMISSION)
        and (authority is None or amount <= authority),
        authority=authority,
    )
