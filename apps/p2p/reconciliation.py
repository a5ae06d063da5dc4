"""Procure-to-pay reconciliation: scheduled, set-based checks across POs, receipts and invoices
that find what no single message shows, and open exceptions for them (DESIGN §4)."""

import datetime
import json
import logging
from collections.abc import Callable

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.exceptions.catalogue import codes
from apps.exceptions.services import ExceptionSpec, exceptions_open
from apps.p2p.choices import InvoiceStatusChoices

logger = logging.getLogger(__name__)

# Every job's query yields the same five columns, the parts of an ExceptionSpec:
# transaction_id, correlation_id, root_cause_key, summary, details (jsonb). Summaries and
# details are built in SQL so that Python only hands the rows to exceptions_open.
#
# A finding that already has an exception is left alone, so an hourly run does not count a new
# occurrence every hour: still open for the same PO (jobs that report per PO) or the same
# transaction (jobs that report per invoice), or ignored by a person on the same transaction
# (ignoring a reconciliation finding must stop it coming back). A finding whose exception was
# resolved while the condition still holds is opened again. exceptions_open's own dedupe by
# (transaction, code) still covers two runs that overlap.
_NOT_REPORTED = """
NOT EXISTS (
    SELECT 1 FROM exceptions_businessexception e
    WHERE e.code_id = %(code)s
      AND ((e.status IN ('open', 'in_progress') AND {open_match})
           OR (e.status = 'ignored' AND e.transaction_id = {transaction}))
)
"""


def _not_reported(*, transaction: str, root_cause_key: str | None = None) -> str:
    open_match = (
        f"e.root_cause_key = {root_cause_key}"
        if root_cause_key is not None
        else f"e.transaction_id = {transaction}"
    )
    return _NOT_REPORTED.format(open_match=open_match, transaction=transaction)


# 1. Receipts not invoiced. Receipts are invoiced first in, first out: on a PO line, a receipt
# line still (partly) waits for its invoice once the running total received up to and
# including it passes what has been invoiced on the line; the first such receipt line is the
# oldest un-invoiced one. A PO is reported when any of its lines has its oldest un-invoiced
# receipt before the cut-off, on the transaction of the oldest of those receipts.
_RECEIPT_UNREPORTED = _not_reported(
    transaction="p.transaction_id", root_cause_key="'po:' || po.po_number"
)
_RECEIPTS_NOT_INVOICED_SQL = f"""
WITH open_lines AS (
    SELECT l.id, l.purchase_order_id, l.line_number, l.received_quantity, l.invoiced_quantity
    FROM p2p_purchaseorderline l
    WHERE l.received_quantity > l.invoiced_quantity
), running AS (
    SELECT ol.id AS line_id, r.id AS receipt_pk, r.receipt_id, r.received_date,
           r.source_transaction_id,
           sum(rl.quantity) OVER (
               PARTITION BY rl.po_line_id ORDER BY r.received_date, r.id, rl.id
           ) AS received_so_far,
           ol.invoiced_quantity
    FROM open_lines ol
    JOIN p2p_receiptline rl ON rl.po_line_id = ol.id
    JOIN p2p_receipt r ON r.id = rl.receipt_id
), oldest AS (
    SELECT DISTINCT ON (line_id) line_id, receipt_pk, receipt_id, received_date,
           source_transaction_id
    FROM running
    WHERE received_so_far > invoiced_quantity
    ORDER BY line_id, received_date, receipt_pk
), late AS (
    SELECT ol.purchase_order_id, ol.line_number, ol.received_quantity, ol.invoiced_quantity,
           o.receipt_pk, o.receipt_id, o.received_date, o.source_transaction_id
    FROM oldest o JOIN open_lines ol ON ol.id = o.line_id
    WHERE o.received_date < %(cutoff)s
), per_order AS (
    SELECT purchase_order_id,
           (array_agg(source_transaction_id ORDER BY received_date, receipt_pk))[1]
               AS transaction_id,
           (array_agg(receipt_id ORDER BY received_date, receipt_pk))[1] AS oldest_receipt,
           min(received_date) AS oldest_date,
           string_agg(
               'line ' || line_number || ' received ' || trim_scale(received_quantity)::text
               || ', invoiced ' || trim_scale(invoiced_quantity)::text,
               '; ' ORDER BY line_number
           ) AS line_text,
           jsonb_agg(
               jsonb_build_object(
                   'line_number', line_number,
                   'received', trim_scale(received_quantity)::text,
                   'invoiced', trim_scale(invoiced_quantity)::text,
                   'not_invoiced', trim_scale(received_quantity - invoiced_quantity)::text,
                   'oldest_receipt', receipt_id,
                   'received_date', received_date
               ) ORDER BY line_number
           ) AS lines
    FROM late
    GROUP BY purchase_order_id
)
SELECT p.transaction_id, t.correlation_id, 'po:' || po.po_number,
       'PO ' || po.po_number || ' from ' || s.code || ': goods received but not invoiced for '
       || 'more than ' || %(days)s || ' days (oldest receipt ' || p.oldest_receipt || ' on '
       || p.oldest_date || '): ' || p.line_text || '.',
       jsonb_build_object(
           'po_number', po.po_number, 'supplier', s.code, 'days', %(days)s,
           'oldest_receipt', p.oldest_receipt, 'oldest_received_date', p.oldest_date,
           'lines', p.lines
       )
FROM per_order p
JOIN p2p_purchaseorder po ON po.id = p.purchase_order_id
JOIN masterdata_supplier s ON s.id = po.supplier_id
JOIN pipeline_transaction t ON t.id = p.transaction_id
WHERE {_RECEIPT_UNREPORTED}
ORDER BY po.po_number
"""  # noqa: S608 (only code constants are interpolated)

# 2. Invoices waiting for their goods receipt for too long. The exception goes on the
# invoice's own transaction, which stays parked: the receipt still wakes it, and when it then
# matches, the pipeline resolves the transaction's open exceptions, this one included.
_WAITING_UNREPORTED = _not_reported(transaction="i.source_transaction_id")
_INVOICES_WAITING_SQL = f"""
SELECT i.source_transaction_id, t.correlation_id, 'po:' || po.po_number,
       'Invoice ' || i.invoice_number || ' from ' || s.code || ' has waited since '
       || (i.created_at AT TIME ZONE %(tz)s)::date || ' (more than ' || %(days)s
       || ' days) for the goods receipt of PO ' || po.po_number || '.',
       jsonb_build_object(
           'invoice_number', i.invoice_number, 'supplier', s.code, 'po_number', po.po_number,
           'waiting_since', (i.created_at AT TIME ZONE %(tz)s)::date, 'days', %(days)s,
           'channel', i.channel
       )
FROM p2p_invoice i
-- An invoice waits for a receipt only once matched to its PO, so the PO is always there.
JOIN p2p_purchaseorder po ON po.id = i.purchase_order_id
JOIN masterdata_supplier s ON s.id = i.supplier_id
JOIN pipeline_transaction t ON t.id = i.source_transaction_id
WHERE i.status = %(waiting)s AND i.created_at < %(since)s
  AND {_WAITING_UNREPORTED}
ORDER BY i.id
"""  # noqa: S608 (only code constants are interpolated)

# 3. POs the supplier acknowledged on which nothing has moved since: no line shipped (ASN) and
# none received, and the order itself untouched for too long.
_SHIPMENT_UNREPORTED = _not_reported(
    transaction="po.source_transaction_id", root_cause_key="'po:' || po.po_number"
)
_SHIPMENTS_OVERDUE_SQL = f"""
SELECT po.source_transaction_id, po.correlation_id, 'po:' || po.po_number,
       'PO ' || po.po_number || ' was acknowledged (' || po.ack_status || ') by ' || s.code
       || ' but nothing has shipped or been received; unchanged since '
       || (po.updated_at AT TIME ZONE %(tz)s)::date || ' (more than ' || %(days)s
       || ' days).',
       jsonb_build_object(
           'po_number', po.po_number, 'supplier', s.code, 'ack_status', po.ack_status,
           'status', po.status, 'last_updated', (po.updated_at AT TIME ZONE %(tz)s)::date,
           'days', %(days)s
       )
FROM p2p_purchaseorder po
JOIN masterdata_supplier s ON s.id = po.supplier_id
WHERE po.ack_status IN ('accepted', 'changed') AND po.updated_at < %(since)s
  AND NOT EXISTS (
      SELECT 1 FROM p2p_purchaseorderline l
      WHERE l.purchase_order_id = po.id
        AND (l.shipped_quantity <> 0 OR l.received_quantity <> 0)
  )
  AND {_SHIPMENT_UNREPORTED}
ORDER BY po.po_number
"""  # noqa: S608 (only code constants are interpolated)

# 4. The same invoice stored twice, typically sent through two channels (EDI and a scanning
# service). The exact same number is refused inline at matching; this finds (a) numbers equal
# once normalised (upper case, letters and digits only, leading zeros of each run of digits
# dropped: INV-0042 = inv42) and (b) different numbers with the same PO, total and date. Each
# window's first row (by arrival) is the original; every later row is reported once, on its
# own transaction, naming the original (rule a first when both apply). Same supplier and kind:
# an invoice and a credit memo may share a number.
_DUPLICATE_UNREPORTED = _not_reported(transaction="f.source_transaction_id")
_DUPLICATE_INVOICES_SQL = rf"""
WITH normalised AS (
    SELECT i.id, i.supplier_id, i.kind, i.purchase_order_id, i.total_amount, i.invoice_date,
           i.invoice_number, i.channel, i.source_transaction_id, i.correlation_id, i.created_at,
           regexp_replace(
               regexp_replace(upper(i.invoice_number), '[^A-Z0-9]', '', 'g'),
               '(^|[^0-9])0+([0-9])', '\1\2', 'g'
           ) AS number
    FROM p2p_invoice i
), ranked AS (
    SELECT n.*,
           first_value(n.id) OVER same_number AS original_by_number,
           first_value(n.id) OVER same_content AS original_by_content
    FROM normalised n
    WINDOW same_number AS (
               PARTITION BY n.supplier_id, n.kind, n.number ORDER BY n.created_at, n.id
           ),
           same_content AS (
               PARTITION BY n.supplier_id, n.kind, n.purchase_order_id, n.total_amount,
                            n.invoice_date
               ORDER BY n.created_at, n.id
           )
), found AS (
    SELECT later.*,
           CASE WHEN later.original_by_number <> later.id THEN 'number' ELSE 'po_total_date'
           END AS rule,
           CASE WHEN later.original_by_number <> later.id THEN later.original_by_number
                ELSE later.original_by_content
           END AS original_id
    FROM ranked later
    WHERE later.original_by_number <> later.id
       OR (later.purchase_order_id IS NOT NULL AND later.original_by_content <> later.id)
)
SELECT f.source_transaction_id, f.correlation_id,
       'invoice:' || s.code || ':' || o.number,
       'Invoice ' || f.invoice_number || ' from ' || s.code || ' (through '
       || coalesce(nullif(f.channel, ''), 'an unnamed channel') || ') duplicates invoice '
       || o.invoice_number || ' (through ' || coalesce(nullif(o.channel, ''), 'an unnamed channel')
       || ', transaction ' || o.source_transaction_id || '): '
       || CASE WHEN f.rule = 'number' THEN 'the same number once normalised'
               ELSE 'the same PO ' || po.po_number || ', total ' || f.total_amount
                    || ' and date ' || f.invoice_date
          END
       || '; it must not be paid twice.',
       jsonb_build_object(
           'rule', f.rule, 'supplier', s.code, 'normalised_number', o.number,
           'invoice_number', f.invoice_number, 'channel', f.channel,
           'earlier_invoice_number', o.invoice_number, 'earlier_channel', o.channel,
           'first_transaction_id', o.source_transaction_id, 'po_number', po.po_number,
           'total_amount', f.total_amount::text, 'invoice_date', f.invoice_date
       )
FROM found f
JOIN normalised o ON o.id = f.original_id
JOIN masterdata_supplier s ON s.id = f.supplier_id
LEFT JOIN p2p_purchaseorder po ON po.id = f.purchase_order_id
WHERE {_DUPLICATE_UNREPORTED}
ORDER BY f.id
"""  # noqa: S608 (only code constants are interpolated)


def _cutoff(today: datetime.date, setting: str) -> tuple[int, datetime.date, datetime.datetime]:
    """(N days, the first day not yet late, its start in the current time zone): a document is
    late when its date, or the local date of its timestamp, is before that day."""
    days = settings.HUBCONSOLE[setting]
    cutoff = today - datetime.timedelta(days=days)
    return days, cutoff, timezone.make_aware(datetime.datetime.combine(cutoff, datetime.time()))


def _open(code: str, sql: str, params: dict) -> int:
    """Run one job's query and open an exception per row it finds, in one commit."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, {"code": code, "tz": timezone.get_current_timezone_name(), **params})
        specs = [
            ExceptionSpec(
                code=code,
                transaction_id=transaction_id,
                correlation_id=correlation_id,
                root_cause_key=root_cause_key,
                summary=summary,
                # Django's psycopg 3 set-up reads jsonb as text (JSONField decodes it).
                details=json.loads(details) if isinstance(details, str) else details,
            )
            for transaction_id, correlation_id, root_cause_key, summary, details in cursor
        ]
        exceptions_open(specs)
    return len(specs)


def receipts_not_invoiced_reconcile(*, today: datetime.date) -> int:
    """POs with goods received longer than RECON_RECEIPT_DAYS ago and still not invoiced."""
    days, cutoff, _ = _cutoff(today, "RECON_RECEIPT_DAYS")
    return _open(
        codes.RECEIPT_NOT_INVOICED, _RECEIPTS_NOT_INVOICED_SQL, {"cutoff": cutoff, "days": days}
    )


def invoices_waiting_reconcile(*, today: datetime.date) -> int:
    """Invoices waiting for their goods receipt longer than RECON_GR_WAIT_DAYS."""
    days, _, since = _cutoff(today, "RECON_GR_WAIT_DAYS")
    return _open(
        codes.GR_MISSING,
        _INVOICES_WAITING_SQL,
        {"since": since, "days": days, "waiting": InvoiceStatusChoices.WAITING_RECEIPT},
    )


def shipments_overdue_reconcile(*, today: datetime.date) -> int:
    """Acknowledged POs with nothing shipped or received for longer than RECON_SHIP_DAYS."""
    days, _, since = _cutoff(today, "RECON_SHIP_DAYS")
    return _open(codes.SHIPMENT_OVERDUE, _SHIPMENTS_OVERDUE_SQL, {"since": since, "days": days})


def duplicate_invoices_reconcile(*, today: datetime.date) -> int:
    """Invoices stored twice under numbers that differ only in form, or under different
    numbers for the same PO, total and date. ``today`` is unused: a duplicate is one at once."""
    return _open(codes.DUPLICATE_INVOICE, _DUPLICATE_INVOICES_SQL, {})


JOBS: dict[str, Callable[..., int]] = {
    "receipts_not_invoiced": receipts_not_invoiced_reconcile,
    "invoices_waiting_receipt": invoices_waiting_reconcile,
    "shipments_overdue": shipments_overdue_reconcile,
    "duplicate_invoices": duplicate_invoices_reconcile,
}


def reconciliation_run(*, today: datetime.date | None = None) -> dict[str, int]:
    """Run every procure-to-pay reconciliation job; returns the exceptions each opened.

    Each job commits on its own: when one fails, what the jobs before it found stays open.
    """
    today = today or timezone.localdate()
    counts = {name: job(today=today) for name, job in JOBS.items()}
    # Counts only: summaries name documents, and logs are read by more people than queues.
    logger.info(
        "p2p reconciliation opened %s",
        ", ".join(f"{name}={count}" for name, count in counts.items()),
    )
    return counts
