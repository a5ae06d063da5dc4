"""X12 810 invoice → canonical Invoice (credit memo when BIG07 is ``CR``).

Areas follow the 810 layout: header up to the first IT1, the IT1 loops (PID, CTP, SAC or ITA,
TXI, REF*PO belong to the line), then the summary from TDS on (TDS, TXI, SAC, CTT).
"""

from __future__ import annotations

from decimal import Decimal

from apps.p2p.canonical import Invoice, Line, Party

from ..interchange import TransactionSet
from ..segments import Segment
from .common_segments import (
    SELLER_CODES,
    add_to_party,
    allowance_charge,
    body,
    check_line_count,
    description,
    envelope,
    heading,
    item_ids,
    party,
    reference,
    terms,
)
from .elements import date, decimal, missing_segment, required, text

CREDIT_MEMO_TYPES = frozenset({"CR"})


def invoice_from_810(tx: TransactionSet) -> Invoice:
    big = heading(tx, "BIG", "BIG (beginning of invoice)")
    invoice = Invoice(
        invoice_number=required(big, 2, "invoice number"),
        invoice_date=date(big, 1, "invoice date", mandatory=True),
        po_number=text(big, 4),
        kind="credit_memo" if text(big, 7) in CREDIT_MEMO_TYPES else "invoice",
        envelope=envelope(tx),
    )
    date(big, 3, "purchase order date")
    line: Line | None = None
    current_party: Party | None = None
    tds: Segment | None = None
    ctt: Segment | None = None
    for segment in body(tx):
        kind = segment.id
        if kind == "IT1":
            line = _line(segment, len(invoice.lines) + 1)
            invoice.lines.append(line)
        elif kind == "TDS":
            tds, line = segment, None
            invoice.total_amount = decimal(
                segment, 1, "total invoice amount", implied=2, mandatory=True
            )
        elif kind == "CTT":
            ctt, line = segment, None
        elif line is not None:
            _line_detail(line, segment)
        elif kind == "N1":
            current_party = party(segment, SELLER_CODES)
            invoice.parties.append(current_party)
        elif kind in ("N2", "N3", "N4") and current_party is not None:
            add_to_party(current_party, segment)
        else:
            _header_detail(invoice, segment)
    if tds is None:
        raise missing_segment("TDS", "TDS (total monetary value summary)", len(tx.segments))
    check_line_count(ctt, len(invoice.lines))
    return invoice


def _header_detail(invoice: Invoice, segment: Segment) -> None:
    kind = segment.id
    if kind == "REF":
        invoice.references.append(reference(segment))
    elif kind == "CUR":
        invoice.currency = required(segment, 2, "currency code")
    elif kind == "ITD":
        invoice.terms = terms(segment)
    elif kind in ("SAC", "ITA"):
        found = allowance_charge(segment)
        if found is not None:
            invoice.allowances_charges.append(found)
    elif kind == "TXI":
        invoice.tax_amount = _add(invoice.tax_amount, decimal(segment, 2, "tax amount"))


def _line(it1: Segment, ordinal: int) -> Line:
    quantity = decimal(it1, 2, "quantity", mandatory=True)
    assert quantity is not None
    ids, _ = item_ids(it1, 6)
    return Line(
        # IT101 is optional (one of the corpus partners never sends it).
        line_number=text(it1, 1) or str(ordinal),
        quantity=quantity,
        unit=required(it1, 3, "unit of measure", conditional=True),
        unit_price=decimal(it1, 4, "unit price"),
        item=ids,
    )


def _line_detail(line: Line, segment: Segment) -> None:
    kind = segment.id
    if kind == "PID":
        line.description = description(line.description, segment)
    elif kind == "CTP" and line.unit_price is None:
        # IT104 is the invoiced price; CTP (often a retail unit price) only fills a gap.
        line.unit_price = decimal(segment, 3, "unit price")
    elif kind in ("SAC", "ITA"):
        found = allowance_charge(segment)
        if found is not None:
            line.allowances_charges.append(found)
    elif kind == "TXI":
        line.tax_amount = _add(line.tax_amount, decimal(segment, 2, "tax amount"))
    elif kind == "REF" and text(segment, 1) == "PO":
        line.po_number = required(segment, 2, "purchase order number")


def _add(total: Decimal | None, amount: Decimal | None) -> Decimal | None:
    if amount is None:
        return total
    return amount if total is None else total + amount
