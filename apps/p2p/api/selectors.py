"""Document queries that only the status API asks: find a business document by its number,
and load one with what its status screen needs in a fixed number of queries."""

from dataclasses import dataclass
from datetime import date

from django.db.models import Prefetch, QuerySet

from apps.core.errors import HubError
from apps.exceptions.choices import OPEN_STATUSES
from apps.exceptions.models import BusinessException
from apps.p2p.models import (
    Invoice,
    InvoiceLine,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
    ShipNotice,
    ShipNoticeLine,
)

SEARCH_LIMIT = 50


@dataclass(frozen=True)
class DocumentHit:
    type: str
    number: str
    status: str | None
    supplier: str
    purchase_order: str | None
    date: date | None
    relation: str  # "number": the key is its number; "purchase_order": the key is its PO's
    kind: str | None = None


def document_search(*, key: str) -> list[DocumentHit]:
    """Documents whose number is ``key``, and those of the purchase order numbered ``key``."""
    hits: list[DocumentHit] = []
    po = PurchaseOrder.objects.select_related("supplier").filter(po_number=key).first()
    if po is not None:
        hits.append(
            DocumentHit(
                "purchase_order",
                po.po_number,
                po.status,
                po.supplier.code,
                None,
                po.po_date,
                "number",
            )
        )
    # Separate queries, not one OR across a join: each is then served by its own index.
    invoices = list(
        Invoice.objects.select_related("supplier", "purchase_order").filter(invoice_number=key)[
            :SEARCH_LIMIT
        ]
    )
    receipts = list(
        Receipt.objects.select_related("purchase_order__supplier").filter(receipt_id=key)[:1]
    )
    if po is not None:
        invoices += list(
            Invoice.objects.select_related("supplier", "purchase_order")
            .filter(purchase_order=po)
            .exclude(invoice_number=key)
            .order_by("invoice_date", "id")[:SEARCH_LIMIT]
        )
        receipts += list(
            Receipt.objects.select_related("purchase_order__supplier")
            .filter(purchase_order=po)
            .exclude(receipt_id=key)
            .order_by("received_date", "id")[:SEARCH_LIMIT]
        )
    for invoice in invoices:
        hits.append(
            DocumentHit(
                "invoice",
                invoice.invoice_number,
                invoice.status,
                invoice.supplier.code,
                invoice.purchase_order.po_number if invoice.purchase_order else None,
                invoice.invoice_date,
                "number" if invoice.invoice_number == key else "purchase_order",
                invoice.kind,
            )
        )
    for receipt in receipts:
        hits.append(
            DocumentHit(
                "receipt",
                receipt.receipt_id,
                None,
                receipt.purchase_order.supplier.code,
                receipt.purchase_order.po_number,
                receipt.received_date,
                "number" if receipt.receipt_id == key else "purchase_order",
            )
        )
    for notice in ShipNotice.objects.select_related("supplier").filter(shipment_id=key)[
        :SEARCH_LIMIT
    ]:
        hits.append(
            DocumentHit(
                "ship_notice",
                notice.shipment_id,
                None,
                notice.supplier.code,
                None,
                notice.ship_date,
                "number",
            )
        )
    return hits


def purchase_order_get(*, po_number: str) -> PurchaseOrder:
    return (
        PurchaseOrder.objects.select_related("supplier", "legal_entity", "facility", "cost_center")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=PurchaseOrderLine.objects.select_related("item").order_by("id"),
            ),
            Prefetch("receipts", queryset=Receipt.objects.order_by("received_date", "id")),
            Prefetch(
                "invoices",
                queryset=Invoice.objects.select_related("supplier").order_by("invoice_date", "id"),
            ),
        )
        .get(po_number=po_number)
    )


def _one(queryset: QuerySet, what: str, describe) -> object:
    """The only row of ``queryset``; DoesNotExist when none, DOCUMENT_AMBIGUOUS when several."""
    rows = list(queryset[:10])
    if not rows:
        raise queryset.model.DoesNotExist
    if len(rows) > 1:
        raise HubError(
            "DOCUMENT_AMBIGUOUS",
            f"Several {what} have this number; add ?supplier= (and ?kind=) to choose one.",
            details={"candidates": [describe(row) for row in rows]},
        )
    return rows[0]


def invoice_get(*, invoice_number: str, supplier: str = "", kind: str = "") -> Invoice:
    queryset = (
        Invoice.objects.select_related("supplier", "purchase_order", "voucher")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=InvoiceLine.objects.select_related("po_line").order_by("id"),
            )
        )
        .filter(invoice_number=invoice_number)
        .order_by("id")
    )
    if supplier:
        queryset = queryset.filter(supplier__code=supplier)
    if kind:
        queryset = queryset.filter(kind=kind)
    return _one(queryset, "invoices", lambda i: {"supplier": i.supplier.code, "kind": i.kind})


def invoice_open_exceptions(*, invoice: Invoice) -> QuerySet[BusinessException]:
    return BusinessException.objects.filter(
        transaction_id=invoice.source_transaction_id, status__in=OPEN_STATUSES
    ).order_by("opened_at", "id")


def receipt_get(*, receipt_id: str) -> Receipt:
    return (
        Receipt.objects.select_related("purchase_order__supplier")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=ReceiptLine.objects.select_related("po_line__item").order_by("id"),
            )
        )
        .get(receipt_id=receipt_id)
    )


def ship_notice_get(*, shipment_id: str, supplier: str = "") -> ShipNotice:
    queryset = (
        ShipNotice.objects.select_related("supplier")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=ShipNoticeLine.objects.select_related(
                    "po_line__purchase_order", "po_line__item"
                ).order_by("id"),
            )
        )
        .filter(shipment_id=shipment_id)
        .order_by("id")
    )
    if supplier:
        queryset = queryset.filter(supplier__code=supplier)
    return _one(queryset, "ship notices", lambda n: {"supplier": n.supplier.code})
