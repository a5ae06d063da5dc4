"""The procure-to-pay steps as pipeline processors and after-delivery steps.

Each processor parses its message into a canonical document and checks it against master data
outside any lock; its ``apply`` changes the business documents inside the commit that
finishes the transaction. Connector settings route the results: ``erp_orders``,
``erp_receipts`` and ``erp_vouchers`` name the outbound connectors (by slug), and
``source_system`` the external system whose codes the messages use (default PROCUREMENT).
"""

from apps.core.errors import HubError
from apps.p2p import canonical as doc
from apps.p2p.formats import (
    FormatError,
    purchase_order_from_json,
    receipt_from_json,
    receipts_from_csv,
)
from apps.p2p.services import orders, receipts
from apps.p2p.services.common import json_body
from apps.p2p.services.invoices import ERP_VOUCHER, vouchers_posted
from apps.pipeline.processors import (
    Child,
    DeliveredView,
    InboundView,
    Processed,
    json_document,
    register,
    register_after_delivery,
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


@register(doc.PURCHASE_ORDER)
def purchase_order(view: InboundView) -> Processed:
    """A purchase order from the procurement system (JSON)."""
    document = json_document(view.raw)
    po = _parsed(purchase_order_from_json, document)
    revision = document.get("revision", 1)
    system = view.connector_settings.get("source_system", DEFAULT_SOURCE_SYSTEM)
    checked = orders.purchase_order_check(po, system=system)

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

    def apply():
        return receipts.receipt_apply(
            parsed, transaction_id=view.transaction_id, settings=view.connector_settings
        )

    keys = [("receipt_id", parsed.receipt_id), ("po_number", parsed.po_number)]
    return Processed(_canonical(parsed, view), parsed.receipt_id, 1, keys, apply=apply)


@register_after_delivery(orders.ERP_ORDER)
def purchase_orders_created(views: list[DeliveredView]):
    return orders.purchase_orders_in_erp(views)


@register_after_delivery(ERP_VOUCHER)
def vouchers_accepted(views: list[DeliveredView]):
    return vouchers_posted(views)
