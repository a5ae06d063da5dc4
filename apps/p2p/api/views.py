"""Status API views of business documents: thin, each calling one selector."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.p2p.api.selectors import (
    document_search,
    invoice_get,
    invoice_open_exceptions,
    purchase_order_get,
    receipt_get,
    ship_notice_get,
)
from apps.p2p.api.serializers import (
    DocumentSearchQuerySerializer,
    DocumentSearchSerializer,
    InvoiceLookupQuerySerializer,
    InvoiceSerializer,
    PurchaseOrderSerializer,
    ReceiptSerializer,
    ShipNoticeLookupQuerySerializer,
    ShipNoticeSerializer,
)
from apps.p2p.models import Invoice, PurchaseOrder, Receipt, ShipNotice

# Document numbers are at most 60 characters; nothing longer can exist.
NUMBER_MAX = 60
_NUMBER = OpenApiParameter(
    "number", str, OpenApiParameter.PATH, description="The document's number."
)


def _number(value: str, what: str) -> str:
    if len(value) > NUMBER_MAX or "\x00" in value:
        raise exceptions.NotFound(f"No such {what}.")
    return value


def _query(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class DocumentSearchView(APIView):
    """Find business documents by number."""

    permission_required = (
        "p2p.view_purchaseorder",
        "p2p.view_invoice",
        "p2p.view_receipt",
        "p2p.view_shipnotice",
    )

    @extend_schema(
        summary="Find documents by number",
        description="Documents numbered `key` (PO, invoice, receipt, shipment), plus the "
        "invoices and receipts of the PO numbered `key`. Each result links to its status.",
        parameters=[DocumentSearchQuerySerializer],
        responses=DocumentSearchSerializer,
    )
    def get(self, request):
        key = _query(DocumentSearchQuerySerializer, request)["key"]
        data = {"key": key, "results": document_search(key=key)}
        return Response(DocumentSearchSerializer(data, context={"request": request}).data)


class PurchaseOrderDocumentView(APIView):
    permission_required = ("p2p.view_purchaseorder", "p2p.view_purchaseorderline")

    @extend_schema(
        summary="A purchase order and its lines: ordered, shipped, received, invoiced",
        parameters=[_NUMBER],
        responses=PurchaseOrderSerializer,
    )
    def get(self, request, number: str):
        try:
            po = purchase_order_get(po_number=_number(number, "purchase order"))
        except PurchaseOrder.DoesNotExist:
            raise exceptions.NotFound("No such purchase order.") from None
        return Response(PurchaseOrderSerializer(po, context={"request": request}).data)


class InvoiceDocumentView(APIView):
    permission_required = ("p2p.view_invoice", "p2p.view_invoiceline", "p2p.view_apvoucher")
    api_error_statuses = (409,)

    @extend_schema(
        summary="An invoice: status, match result, voucher",
        description="When suppliers share an invoice number the answer is 409 "
        "DOCUMENT_AMBIGUOUS listing the candidates; choose with `supplier` (and `kind`).",
        parameters=[_NUMBER, InvoiceLookupQuerySerializer],
        responses=InvoiceSerializer,
    )
    def get(self, request, number: str):
        query = _query(InvoiceLookupQuerySerializer, request)
        try:
            invoice = invoice_get(
                invoice_number=_number(number, "invoice"),
                supplier=query.get("supplier", ""),
                kind=query.get("kind", ""),
            )
        except Invoice.DoesNotExist:
            raise exceptions.NotFound("No such invoice.") from None
        context = {"request": request, "open_exceptions": invoice_open_exceptions(invoice=invoice)}
        return Response(InvoiceSerializer(invoice, context=context).data)


class ReceiptDocumentView(APIView):
    permission_required = ("p2p.view_receipt", "p2p.view_receiptline")

    @extend_schema(
        summary="A goods receipt and its lines", parameters=[_NUMBER], responses=ReceiptSerializer
    )
    def get(self, request, number: str):
        try:
            receipt = receipt_get(receipt_id=_number(number, "receipt"))
        except Receipt.DoesNotExist:
            raise exceptions.NotFound("No such receipt.") from None
        return Response(ReceiptSerializer(receipt, context={"request": request}).data)


class ShipNoticeDocumentView(APIView):
    permission_required = ("p2p.view_shipnotice", "p2p.view_shipnoticeline")
    api_error_statuses = (409,)

    @extend_schema(
        summary="An advance ship notice and its lines",
        parameters=[_NUMBER, ShipNoticeLookupQuerySerializer],
        responses=ShipNoticeSerializer,
    )
    def get(self, request, number: str):
        query = _query(ShipNoticeLookupQuerySerializer, request)
        try:
            notice = ship_notice_get(
                shipment_id=_number(number, "ship notice"), supplier=query.get("supplier", "")
            )
        except ShipNotice.DoesNotExist:
            raise exceptions.NotFound("No such ship notice.") from None
        return Response(ShipNoticeSerializer(notice, context={"request": request}).data)
