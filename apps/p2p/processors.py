"""The procure-to-pay steps as pipeline processors and after-delivery steps.

Each processor parses its message into a canonical document and checks it against master data
outside any lock; its ``apply`` changes the business documents inside the commit that
finishes the transaction. Connector settings route the results: ``erp_orders``,
``erp_receipts`` and ``erp_vouchers`` name the outbound connectors (by slug), and
``source_system`` the external system whose codes the messages use (default PROCUREMENT).
"""

from contextlib import contextmanager

from django.utils import timezone

from apps.core.errors import HubError
from apps.exceptions.catalogue import codes
from apps.masterdata.lookup import LookupKey
from apps.p2p import canonical as doc
from apps.p2p.edi import ORDER_850, order_to_supplier, read_supplier_document
from apps.p2p.formats import (
    FormatError,
    purchase_order_from_json,
    receipt_from_json,
    receipts_from_csv,
)
from apps.p2p.services import orders, receipts
from apps.p2p.services.common import json_body, resolve_all
from apps.p2p.services.invoices import (
    ERP_VOUCHER,
    invoice_apply,
    invoices_reject,
    vouchers_posted,
)
from apps.pipeline.processors import (
    Child,
    DeliveredView,
    InboundView,
    Processed,
    json_document,
    register,
    register_after_delivery,
    register_on_reject,
)

DEFAULT_SOURCE_SYSTEM = "PROCUREMENT"


def _canonical(document: doc.Canonical, view: InboundView) -> dict:
    return {
        "document_type": document.document_type,
        "document_id": document.document_id,
        "correlation_id": view.correlation_id,
        "data": document.to_dict(),
    }


def _parsed(function, *args):
    try:
        return function(*args)
    except FormatError as error:
        raise HubError(error.code, error.message, details={"field": error.field}) from None


@contextmanager
def _context(**context):
    """Name the business context of any coded error raised inside: the supplier, facility,
    amount and document a work queue filters by (codes only, no patient identifiers)."""
    try:
        yield
    except HubError as error:
        _add_context(error, context)
        raise


def _add_context(error: HubError, context: dict) -> None:
    known = {k: str(v) for k, v in context.items() if v not in (None, "")}
    error.details["context"] = {**known, **error.details.get("context", {})}


def _in(context: dict):
    """Decorate a business step so its coded outcomes carry ``context`` (read when it runs)."""

    def decorate(apply):
        def run():
            with _context(**context):
                applied = apply()
            if applied.error is not None:
                _add_context(applied.error, context)
            return applied

        return run

    return decorate


@register(doc.PURCHASE_ORDER)
def purchase_order(view: InboundView) -> Processed:
    """A purchase order from the procurement system (JSON)."""
    document = json_document(view.raw)
    po = _parsed(purchase_order_from_json, document)
    revision = document.get("revision", 1)
    system = view.connector_settings.get("source_system", DEFAULT_SOURCE_SYSTEM)
    context = {
        "supplier": next((p.code for p in po.parties if p.role == "supplier"), ""),
        "facility": po.facility,
        "amount": po.total_amount,
        "document": po.po_number,
    }
    with _context(**context):
        checked = orders.purchase_order_check(po, system=system)
    context["supplier"] = checked.supplier_code

    @_in(context)
    def apply():
        return orders.purchase_order_accept(
            checked,
            revision=revision,
            transaction_id=view.transaction_id,
            correlation_id=view.correlation_id,
            settings=view.connector_settings,
        )

    keys = [("po_number", po.po_number)]
    if po.requisition_number:
        keys.append(("requisition", po.requisition_number))
    return Processed(_canonical(po, view), po.po_number, revision, keys, apply=apply)


@register(doc.RECEIPT)
def receipt(view: InboundView) -> Processed:
    """A goods receipt: one JSON document, or a CSV file of receipts (split into children)."""
    if view.format == "csv":
        documents = _parsed(receipts_from_csv, view.raw)
        children = [
            Child(
                document_type=doc.RECEIPT,
                format="json",
                body=json_body(document),
                idempotency_key=f"receipt:{view.connector_id}:{document['receipt_id']}",
                document_id=document["receipt_id"],
            )
            for document in documents
        ]
        canonical = {"document_type": "p2p.receipt_file", "receipts": len(children)}
        return Processed(canonical, children=children)
    parsed = _parsed(receipt_from_json, json_document(view.raw))

    @_in({"facility": parsed.facility, "document": parsed.receipt_id})
    def apply():
        return receipts.receipt_apply(
            parsed, transaction_id=view.transaction_id, settings=view.connector_settings
        )

    keys = [("receipt_id", parsed.receipt_id), ("po_number", parsed.po_number)]
    return Processed(_canonical(parsed, view), parsed.receipt_id, 1, keys, apply=apply)


@register(doc.PO_ACKNOWLEDGMENT)
def po_acknowledgment(view: InboundView) -> Processed:
    """A supplier's 855."""
    ack, _, supplier_code = read_supplier_document(view.raw)

    @_in({"supplier": supplier_code, "document": ack.po_number})
    def apply():
        return orders.acknowledgment_apply(ack)

    return Processed(
        _canonical(ack, view), ack.document_id, 1, [("po_number", ack.po_number)], apply=apply
    )


@register(doc.SHIP_NOTICE)
def ship_notice(view: InboundView) -> Processed:
    """A supplier's 856."""
    asn, supplier_id, supplier_code = read_supplier_document(view.raw)

    @_in({"supplier": supplier_code, "document": asn.shipment_id})
    def apply():
        return orders.ship_notice_apply(
            asn, supplier_id=supplier_id, transaction_id=view.transaction_id
        )

    keys = [("shipment_id", asn.shipment_id), ("supplier", supplier_code)]
    return Processed(_canonical(asn, view), asn.shipment_id, 1, keys, apply=apply)


@register(doc.INVOICE)
def invoice(view: InboundView) -> Processed:
    """A supplier's 810 (or an invoice as JSON in canonical form, from a scanning channel)."""
    if view.format == "x12":
        parsed, supplier_id, supplier_code = read_supplier_document(view.raw)
    else:
        parsed, supplier_id, supplier_code = _json_invoice(view)

    context = {
        "supplier": supplier_code,
        "amount": parsed.total_amount,
        "document": parsed.invoice_number,
    }

    @_in(context)
    def apply():
        return invoice_apply(
            parsed,
            supplier_id=supplier_id,
            supplier_code=supplier_code,
            transaction_id=view.transaction_id,
            correlation_id=view.correlation_id,
            channel=view.connector_slug,
            settings=view.connector_settings,
        )

    keys = [("invoice_number", parsed.invoice_number), ("po_number", parsed.po_number)]
    return Processed(_canonical(parsed, view), parsed.invoice_number, 1, keys, apply=apply)


def _json_invoice(view: InboundView):
    document = json_document(view.raw)
    try:
        parsed = doc.Invoice.from_dict(document)
    except (TypeError, ValueError, ArithmeticError, AttributeError) as error:
        raise HubError(codes.SCHEMA_INVALID, f"Not a canonical invoice: {error}") from None
    supplier = next((p.code for p in parsed.parties if p.role == "supplier"), "")
    if not parsed.invoice_number or not parsed.po_number or not supplier or not parsed.lines:
        raise HubError(
            codes.SCHEMA_INVALID,
            "An invoice needs invoice_number, po_number, a supplier party with a code, and lines.",
        )
    system = view.connector_settings.get("source_system", DEFAULT_SOURCE_SYSTEM)
    key = LookupKey(system, "supplier", supplier)
    on = parsed.invoice_date or timezone.localdate()
    resolved = resolve_all([key], on=on)[key]
    return parsed, resolved.record_id, resolved.code


@register_on_reject(doc.INVOICE)
def invoices_rejected(transaction_ids: list[int]) -> None:
    invoices_reject(transaction_ids=transaction_ids)


@register_after_delivery(orders.ERP_ORDER)
def purchase_orders_created(views: list[DeliveredView]):
    """The ERP has the orders: suppliers that trade by EDI get their 850."""
    return orders.purchase_orders_in_erp(views, order_to_supplier=order_to_supplier)


@register_after_delivery(ORDER_850)
def purchase_orders_sent(views: list[DeliveredView]):
    orders.purchase_orders_sent([view.document_id for view in views])
    return []


@register_after_delivery(ERP_VOUCHER)
def vouchers_accepted(views: list[DeliveredView]):
    return vouchers_posted(views)
