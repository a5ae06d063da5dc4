"""The facts a three-way match compares, built one way for the flow step and the batch rematch.

``invoice_apply`` builds them from an incoming invoice, ``invoices_rematch`` from stored rows;
both go through these functions so that a rematch decides exactly what a replay will.
"""

from collections.abc import Iterable
from decimal import Decimal
from typing import Protocol

from apps.masterdata.services.mappings import ToleranceBook
from apps.p2p.choices import InvoiceStatusChoices
from apps.p2p.matching import EXACT, HeaderFacts, Limit, Limits, LineFacts, MatchResult

ZERO = Decimal(0)


class POLineState(Protocol):
    """What matching reads of a PO line (a ``PurchaseOrderLine`` or a row loaded in bulk)."""

    unit_price: Decimal
    quantity: Decimal
    received_quantity: Decimal


class LimitsBook:
    """Tolerance limits per (supplier, item, facility) out of one tolerance book.

    Each scope's limits are built once. ``scoped`` (the ids that have scoped rules, per scope
    kind) lets a batch fold every supplier, item or facility without a rule of its own into
    one key, so a million lines share a handful of answers instead of one dict each.
    """

    def __init__(self, book: ToleranceBook, *, scoped: dict[str, set[int]] | None = None):
        self._book = book
        self._scoped = scoped
        self._limits: dict[tuple, Limits] = {}

    def limits(
        self, *, supplier_id: int | None, item_id: int | None, facility_id: int | None
    ) -> Limits:
        if self._scoped is not None:
            supplier_id = supplier_id if supplier_id in self._scoped["supplier"] else None
            item_id = item_id if item_id in self._scoped["item"] else None
            facility_id = facility_id if facility_id in self._scoped["facility"] else None
        key = (supplier_id, item_id, facility_id)
        found = self._limits.get(key)
        if found is None:
            rules = self._book.rules_for(
                supplier_id=supplier_id, item_id=item_id, facility_id=facility_id
            )
            table = {
                measure: Limit(rule.percent, rule.absolute, rule.name)
                for measure, rule in rules.items()
            }

            def found(level: str, measure: str, _table=table) -> Limit:
                return _table.get((level, measure), EXACT)

            self._limits[key] = found
        return found


def scoped_ids(rules: Iterable) -> dict[str, set[int]]:
    """The suppliers, items and facilities that have tolerance rules of their own."""
    scoped: dict[str, set[int]] = {"supplier": set(), "item": set(), "facility": set()}
    for rule in rules:
        for kind in scoped:
            value = getattr(rule, f"{kind}_id")
            if value is not None:
                scoped[kind].add(value)
    return scoped


def line_facts(
    *,
    line_number: str,
    quantity: Decimal,
    unit_price: Decimal | None,
    factor: Decimal,
    amount: Decimal | None,
    tax_amount: Decimal | None,
    po_line: POLineState,
    invoiced_before: Decimal,
    limits: Limits,
) -> LineFacts:
    """One invoice line in its PO line's unit (``factor`` PO units make one invoice unit)."""
    return LineFacts(
        line_number=line_number,
        quantity=quantity * factor,
        unit_price=(unit_price or ZERO) / factor,
        amount=amount or ZERO,
        tax_amount=tax_amount or ZERO,
        po_price=po_line.unit_price,
        ordered=po_line.quantity,
        received=po_line.received_quantity,
        invoiced_before=invoiced_before,
        limits=limits,
    )


def header_facts(
    *,
    credit_memo: bool,
    lines_amount: Decimal,
    charges_amount: Decimal,
    tax_amount: Decimal,
    total_amount: Decimal,
    limits: Limits,
) -> HeaderFacts:
    return HeaderFacts(
        credit_memo=credit_memo,
        lines_amount=lines_amount,
        charges_amount=charges_amount,
        tax_amount=tax_amount,
        total_amount=total_amount,
        limits=limits,
    )


def status_of(result: MatchResult) -> InvoiceStatusChoices:
    """The invoice status a match result leads to."""
    if result.waiting_for_receipt:
        return InvoiceStatusChoices.WAITING_RECEIPT
    if result.matched:
        return InvoiceStatusChoices.MATCHED
    return InvoiceStatusChoices.EXCEPTION
