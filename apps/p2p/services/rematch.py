"""Match many stored invoices again at once, after a tolerance rule or a batch of receipts.

``invoices_rematch`` reads the stored invoices, their lines and PO lines a few queries per
batch, asks ``match_invoice`` with the facts ``invoice_apply`` would build (the same functions
build them, ``apps.p2p.services.facts``) and writes every result back with one UPDATE per
batch. It posts nothing: an invoice that now matches keeps its status until its transaction is
replayed, and the replay (``invoice_apply``) consumes the PO lines and queues the AP voucher.

Why the status stays: ``invoice_apply`` takes an invoice stored as *matched* to have consumed
its PO lines already (so that a replay never counts it twice). Marking it matched here, where
nothing is consumed, would make its replay skip the consumption, and the PO lines would look
less invoiced than they are.

Invoiced before: for one invoice ``invoice_apply`` reads it from the PO line's
``invoiced_quantity``. A batch decides many invoices of the same PO line together, so they are
taken in the order their replays will run, by (invoice date, id), and each one that now matches
adds its quantity (a credit memo takes it off) to a running total the later ones see, across
batches too. ``matched_transaction_ids`` come in that order: replay them in it.

An invoice whose variances a person accepted (``invoice_variance_accept``) counts as matching
when its variances are still exactly those, as the replay will decide.
"""

import datetime
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from django.db import connection, transaction

from apps.core.errors import HubError
from apps.masterdata.choices import ApprovalStatusChoices
from apps.masterdata.lookup import UomKey, uom_factors
from apps.masterdata.models import ToleranceRule
from apps.masterdata.services.mappings import ToleranceBook
from apps.p2p.choices import InvoiceKindChoices, InvoiceStatusChoices
from apps.p2p.matching import match_invoice
from apps.p2p.services.facts import LimitsBook, header_facts, line_facts, scoped_ids, status_of
from apps.p2p.services.variances import variances_accepted

Status = InvoiceStatusChoices
REMATCHABLE = (Status.WAITING_RECEIPT, Status.EXCEPTION)
ONE = Decimal(1)
ZERO = Decimal(0)


@dataclass(frozen=True)
class RematchOutcome:
    """What a rematch found. ``counts`` is per resulting status; ``matched`` there means "would
    match now": those invoices keep their stored status until their transactions are replayed.
    """

    examined: int
    counts: dict[str, int]
    changed: int  # invoices whose stored status or match result changed
    matched_transaction_ids: list[int]  # to replay, in this order
    skipped: dict[int, str] = field(default_factory=dict)  # invoice id -> why not rematched
    batches: int = 0
    seconds: float = 0.0


class _POLine(NamedTuple):
    item_id: int
    unit: str
    unit_price: Decimal
    quantity: Decimal
    received_quantity: Decimal
    invoiced_quantity: Decimal


# The invoices of a batch, locked so that the flow (``invoice_apply``) cannot change one
# between this read and the write below; any whose status moved on since the ids were listed
# are simply not returned. Locked in id order, so that two rematches running at once queue
# rather than deadlock. The PO is joined only for its facility (the tolerance scope).
_INVOICES_SQL = """
SELECT i.id, i.supplier_id, i.kind, i.invoice_date, i.lines_amount, i.charges_amount,
       i.tax_amount, i.total_amount, i.source_transaction_id, i.purchase_order_id, po.facility_id,
       i.status, nullif(i.accepted_variances, '[]')
FROM p2p_invoice i
LEFT JOIN p2p_purchaseorder po ON po.id = i.purchase_order_id
WHERE i.id = ANY(%(ids)s) AND i.status = ANY(%(statuses)s)
ORDER BY i.id
FOR UPDATE OF i
"""

_DATE, _TRANSACTION, _PURCHASE_ORDER, _FACILITY, _STATUS, _ACCEPTED = 3, 8, 9, 10, 11, 12

_LINES_SQL = """
SELECT l.invoice_id, l.line_number, l.unit, l.quantity, l.unit_price, l.amount, l.tax_amount,
       l.po_line_id, p.item_id, p.unit, p.unit_price, p.quantity, p.received_quantity,
       p.invoiced_quantity
FROM p2p_invoiceline l
LEFT JOIN p2p_purchaseorderline p ON p.id = l.po_line_id
WHERE l.invoice_id = ANY(%(ids)s)
ORDER BY l.invoice_id, l.id
"""

# Rows whose status and result are unchanged are left alone: a rematch after a narrow rule
# change rewrites the few invoices it affects, not every open one. The results travel as one
# JSON array rather than a jsonb[]: an array literal escapes every quote of every document
# (a regular expression per element), which cost more than the UPDATE itself.
_UPDATE_SQL = """
UPDATE p2p_invoice i
SET status = u.status, match_result = r.match_result, matched_at = NULL, updated_at = now()
FROM unnest(%(ids)s::bigint[], %(statuses)s::text[]) WITH ORDINALITY AS u(id, status, n)
JOIN jsonb_array_elements(%(results)s::jsonb) WITH ORDINALITY AS r(match_result, n) USING (n)
WHERE i.id = u.id
  AND (i.status, i.match_result) IS DISTINCT FROM (u.status, r.match_result)
RETURNING i.id
"""


def invoices_rematch(
    *,
    invoice_ids: Sequence[int] | None = None,
    statuses: Sequence[str] = REMATCHABLE,
    on: datetime.date | None = None,
    batch_size: int = 5000,
) -> RematchOutcome:
    """Match the stored invoices in ``statuses`` (only ``invoice_ids`` of them, if given) again
    with the tolerance rules and receipts there are now.

    Tolerance rules are those in effect on each invoice's date, as ``invoice_apply`` (and so a
    replay) takes them; ``on`` takes one date's rules for every invoice instead. Each batch of
    ``batch_size`` invoices is one commit of a bounded number of queries.
    """
    started = time.perf_counter()
    statuses = [str(s) for s in statuses]
    if not statuses or not set(statuses) <= {str(s) for s in REMATCHABLE}:
        # A matched invoice has consumed its PO lines: matching it again would count it twice.
        raise HubError(
            "REMATCH_STATUS_INVALID",
            "Only invoices waiting for their receipt or in exception can be matched again.",
        )
    if batch_size < 1:
        raise HubError("REMATCH_BATCH_INVALID", "The batch size must be at least 1.")
    order = _ordered(invoice_ids, statuses)
    books = _Books([day for _, day in order], on=on)
    run = _Run(books=books)
    for start in range(0, len(order), batch_size):
        batch = [invoice_id for invoice_id, _ in order[start : start + batch_size]]
        with transaction.atomic():
            run.batch(batch, statuses)
    return RematchOutcome(
        examined=run.examined,
        counts=dict(run.counts),
        changed=run.changed,
        matched_transaction_ids=run.matched_transaction_ids,
        skipped=run.skipped,
        batches=-(-len(order) // batch_size),
        seconds=time.perf_counter() - started,
    )


def _ordered(invoice_ids, statuses) -> list[tuple[int, datetime.date]]:
    """The invoices to rematch in the order their replays will run."""
    query = "SELECT id, invoice_date FROM p2p_invoice WHERE status = ANY(%(statuses)s)"
    params: dict = {"statuses": statuses}
    if invoice_ids is not None:
        query += " AND id = ANY(%(ids)s)"
        params["ids"] = list(invoice_ids)
    with connection.cursor() as cursor:
        cursor.execute(query + " ORDER BY invoice_date, id", params)
        return cursor.fetchall()


class _Books:
    """Tolerance limits per invoice date, from one read of the rules (not one per date)."""

    def __init__(self, days: list[datetime.date], *, on: datetime.date | None):
        self._on = on
        self._books: dict[datetime.date, LimitsBook] = {}
        if not days and on is None:
            self._rules = []
            return
        first, last = (on, on) if on is not None else (min(days), max(days))
        # Same condition as tolerance_book(on=day), for every day of the range at once.
        self._rules = list(
            ToleranceRule.objects.filter(
                status=ApprovalStatusChoices.APPROVED, effective_from__lte=last
            ).exclude(effective_to__lt=first)
        )

    def on(self, day: datetime.date) -> LimitsBook:
        day = self._on or day
        book = self._books.get(day)
        if book is None:
            rules = [
                rule
                for rule in self._rules
                if rule.effective_from <= day
                and (rule.effective_to is None or rule.effective_to >= day)
            ]
            book = LimitsBook(ToleranceBook(rules), scoped=scoped_ids(rules))
            self._books[day] = book
        return book


@dataclass
class _Run:
    books: _Books
    examined: int = 0
    changed: int = 0
    counts: Counter = field(default_factory=Counter)
    matched_transaction_ids: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)
    # PO line id -> what the invoices found matching earlier in this run will add to its
    # invoiced quantity when they are replayed (credit memos take off).
    pending: dict[int, Decimal] = field(default_factory=dict)

    def batch(self, ids: list[int], statuses: list[str]) -> None:
        with connection.cursor() as cursor:
            cursor.execute(_INVOICES_SQL, {"ids": ids, "statuses": statuses})
            invoices = {row[0]: row for row in cursor.fetchall()}
            cursor.execute(_LINES_SQL, {"ids": list(invoices)})
            lines: dict[int, list] = {}
            for row in cursor.fetchall():
                lines.setdefault(row[0], []).append(row)
            factors = _factors(lines)
            written: tuple[list, list, list] = ([], [], [])
            for invoice_id in ids:  # in (date, id) order: the running totals rely on it
                invoice = invoices.get(invoice_id)
                if invoice is None:
                    self.skipped[invoice_id] = "It is no longer waiting or in exception."
                    continue
                decided = self._match(invoice, lines.get(invoice_id, ()), factors)
                if decided is None:
                    continue
                status, result = decided
                self.examined += 1
                self.counts[str(status)] += 1
                if status == Status.MATCHED:
                    self.matched_transaction_ids.append(invoice[_TRANSACTION])
                    status = invoice[_STATUS]  # until the replay consumes and vouchers it
                written[0].append(invoice_id)
                written[1].append(status)
                written[2].append(result)
            if written[0]:
                cursor.execute(
                    _UPDATE_SQL,
                    {
                        "ids": written[0],
                        "statuses": written[1],
                        "results": json.dumps(written[2]),
                    },
                )
                self.changed += len(cursor.fetchall())

    def _match(self, invoice, rows, factors):
        """The facts ``invoice_apply`` would build from this stored invoice, and the verdict;
        None (and the reason noted) when the stored rows cannot say."""
        invoice_id = invoice[0]
        if invoice[_PURCHASE_ORDER] is None or not rows or any(r[7] is None for r in rows):
            self.skipped[invoice_id] = "It has no PO, no lines or a line without its PO line."
            return None
        book = self.books.on(invoice[_DATE])
        supplier_id, facility_id = invoice[1], invoice[_FACILITY]
        sign = -1 if invoice[2] == InvoiceKindChoices.CREDIT_MEMO else 1
        pending = self.pending
        facts = []
        for row in rows:
            po_line = _POLine(*row[8:14])
            if row[2] == po_line.unit:
                factor = ONE
            else:
                factor = factors[UomKey(po_line.item_id, row[2], po_line.unit)]
                if isinstance(factor, HubError):
                    self.skipped[invoice_id] = factor.message
                    return None
            facts.append(
                line_facts(
                    line_number=row[1],
                    quantity=row[3],
                    unit_price=row[4],
                    factor=factor,
                    amount=row[5],
                    tax_amount=row[6],
                    po_line=po_line,
                    invoiced_before=po_line.invoiced_quantity + pending.get(row[7], ZERO),
                    limits=book.limits(
                        supplier_id=supplier_id, item_id=po_line.item_id, facility_id=facility_id
                    ),
                )
            )
        result = match_invoice(
            facts,
            header_facts(
                credit_memo=sign < 0,
                lines_amount=invoice[4],
                charges_amount=invoice[5],
                tax_amount=invoice[6],
                total_amount=invoice[7],
                limits=book.limits(supplier_id=supplier_id, item_id=None, facility_id=facility_id),
            ),
        )
        status = status_of(result)
        stored = result.to_dict()
        # Variances a person accepted (exactly these) let it match, as in invoice_apply.
        if status == Status.EXCEPTION and _accepted(stored["variances"], invoice[_ACCEPTED]):
            status = Status.MATCHED
        if status == Status.MATCHED:
            for row, fact in zip(rows, facts, strict=True):
                pending[row[7]] = pending.get(row[7], ZERO) + sign * fact.quantity
        return status, stored


def _accepted(variances: list[dict], accepted: str | None) -> bool:
    """``variances_accepted``, with the values compared as numbers: the stored rows carry four
    decimals where the document the acceptance was recorded from may have carried two."""
    if accepted is None:  # JSON text (the raw cursor does not decode it); NULL when none
        return False
    return variances_accepted(_plain(variances), _plain(json.loads(accepted)))


def _plain(variances: list[dict]) -> list[dict]:
    return [{**v, "actual": f"{Decimal(v['actual']).normalize():f}"} for v in variances]


def _factors(lines: dict[int, list]) -> dict[UomKey, Decimal | HubError]:
    """Unit conversions for the lines invoiced in another unit than their PO line's (today's
    conversions, as a replay would use); none asked when every unit is the PO's."""
    keys = [
        UomKey(row[8], row[2], row[9])
        for rows in lines.values()
        for row in rows
        if row[7] is not None and row[2] != row[9]
    ]
    return uom_factors(keys) if keys else {}
