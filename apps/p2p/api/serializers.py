"""Business documents as the status API shows them: where each PO, invoice, receipt and ship
notice stands. Amounts and quantities are decimal strings."""

from urllib.parse import urlencode

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.p2p.choices import InvoiceKindChoices
from apps.p2p.models import (
    APVoucher,
    Invoice,
    InvoiceLine,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
    ShipNotice,
    ShipNoticeLine,
)

DOCUMENT_TYPES = ("purchase_order", "invoice", "receipt", "ship_notice")


def document_url(request, type_: str, number: str, **query: str) -> str:
    url = reverse(f"api:document-{type_.replace('_', '-')}", kwargs={"number": number})
    query = {name: value for name, value in query.items() if value}
    if query:
        url += "?" + urlencode(query)
    return request.build_absolute_uri(url) if request else url


# --- Search -----------------------------------------------------------------------------------


class DocumentSearchQuerySerializer(serializers.Serializer):
    key = serializers.CharField(
        max_length=60, help_text="A PO, invoice, receipt or shipment number."
    )


class DocumentHitSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=DOCUMENT_TYPES)
    number = serializers.CharField()
    kind = serializers.ChoiceField(
        choices=InvoiceKindChoices.choices, allow_null=True, help_text="Invoices only."
    )
    status = serializers.CharField(allow_null=True, help_text="POs and invoices only.")
    supplier = serializers.CharField(help_text="Supplier code.")
    purchase_order = serializers.CharField(allow_null=True)
    date = serializers.DateField(allow_null=True)
    relation = serializers.ChoiceField(
        choices=["number", "purchase_order"],
        help_text="number: the key is this document's number; purchase_order: the key is the "
        "number of its PO.",
    )
    url = serializers.SerializerMethodField()

    def get_url(self, hit) -> str:
        query = {}
        if hit.type in {"invoice", "ship_notice"}:
            query["supplier"] = hit.supplier
        if hit.type == "invoice":
            query["kind"] = hit.kind
        return document_url(self.context.get("request"), hit.type, hit.number, **query)


class DocumentSearchSerializer(serializers.Serializer):
    key = serializers.CharField()
    results = DocumentHitSerializer(many=True)


# --- Purchase orders ----------------------------------------------------------------------------


class SupplierRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class PurchaseOrderLineSerializer(serializers.ModelSerializer):
    item = serializers.CharField(source="item.code")
    ordered_quantity = serializers.DecimalField(source="quantity", max_digits=14, decimal_places=4)

    class Meta:
        model = PurchaseOrderLine
        fields = [
            "line_number",
            "item",
            "vendor_part",
            "gtin",
            "description",
            "unit",
            "unit_price",
            "ordered_quantity",
            "acknowledged_quantity",
            "acknowledged_price",
            "ack_status",
            "shipped_quantity",
            "received_quantity",
            "invoiced_quantity",
            "invoiced_amount",
        ]
        read_only_fields = fields


class PurchaseOrderReceiptSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Receipt
        fields = ["receipt_id", "received_date", "url"]
        read_only_fields = fields

    def get_url(self, receipt) -> str:
        return document_url(self.context.get("request"), "receipt", receipt.receipt_id)


class PurchaseOrderInvoiceSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Invoice
        fields = ["invoice_number", "kind", "status", "invoice_date", "total_amount", "url"]
        read_only_fields = fields

    def get_url(self, invoice) -> str:
        return document_url(
            self.context.get("request"),
            "invoice",
            invoice.invoice_number,
            supplier=invoice.supplier.code,
            kind=invoice.kind,
        )


class PurchaseOrderSerializer(serializers.ModelSerializer):
    supplier = SupplierRefSerializer()
    legal_entity = serializers.CharField(source="legal_entity.code")
    facility = serializers.CharField(source="facility.code", allow_null=True, default=None)
    cost_center = serializers.CharField(source="cost_center.code")
    source_transaction = serializers.PrimaryKeyRelatedField(read_only=True)
    lines = PurchaseOrderLineSerializer(many=True)
    receipts = PurchaseOrderReceiptSerializer(many=True)
    invoices = PurchaseOrderInvoiceSerializer(many=True)

    class Meta:
        model = PurchaseOrder
        fields = [
            "po_number",
            "revision",
            "status",
            "supplier",
            "legal_entity",
            "facility",
            "cost_center",
            "currency",
            "po_date",
            "total_amount",
            "requisition_number",
            "erp_reference",
            "ack_status",
            "correlation_id",
            "source_transaction",
            "created_at",
            "updated_at",
            "lines",
            "receipts",
            "invoices",
        ]
        read_only_fields = fields


# --- Invoices -----------------------------------------------------------------------------------


class InvoiceLookupQuerySerializer(serializers.Serializer):
    supplier = serializers.CharField(
        required=False, max_length=40, help_text="Supplier code, when several share the number."
    )
    kind = serializers.ChoiceField(choices=InvoiceKindChoices.choices, required=False)


class InvoiceLineSerializer(serializers.ModelSerializer):
    po_line = serializers.CharField(source="po_line.line_number", allow_null=True, default=None)

    class Meta:
        model = InvoiceLine
        fields = [
            "line_number",
            "po_line",
            "unit",
            "quantity",
            "unit_price",
            "amount",
            "tax_amount",
            "po_unit_quantity",
            "po_unit_price",
        ]
        read_only_fields = fields


class VoucherSerializer(serializers.ModelSerializer):
    class Meta:
        model = APVoucher
        fields = ["voucher_id", "status", "amount", "erp_reference", "match_outcome"]
        read_only_fields = fields


class MatchVarianceSerializer(serializers.Serializer):
    code = serializers.CharField()
    level = serializers.CharField()
    measure = serializers.CharField()
    line_number = serializers.CharField()
    expected = serializers.CharField()
    actual = serializers.CharField()
    difference = serializers.CharField()
    tolerance = serializers.CharField()


class MatchSummarySerializer(serializers.Serializer):
    matched = serializers.BooleanField(allow_null=True, help_text="Null before any match ran.")
    waiting_for_receipt = serializers.BooleanField()
    variances = MatchVarianceSerializer(many=True)


class DocumentExceptionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField(source="code_id")
    status = serializers.CharField()
    summary = serializers.CharField()
    url = serializers.HyperlinkedIdentityField(view_name="api:exception-detail")


class InvoiceSerializer(serializers.ModelSerializer):
    supplier = SupplierRefSerializer()
    purchase_order = serializers.CharField(
        source="purchase_order.po_number", allow_null=True, default=None
    )
    match = serializers.SerializerMethodField()
    voucher = serializers.SerializerMethodField()
    source_transaction = serializers.PrimaryKeyRelatedField(read_only=True)
    lines = InvoiceLineSerializer(many=True)
    open_exceptions = serializers.SerializerMethodField()

    class Meta:
        model = Invoice
        fields = [
            "invoice_number",
            "kind",
            "status",
            "supplier",
            "purchase_order",
            "invoice_date",
            "currency",
            "lines_amount",
            "charges_amount",
            "tax_amount",
            "total_amount",
            "match",
            "matched_at",
            "voucher",
            "channel",
            "correlation_id",
            "source_transaction",
            "created_at",
            "updated_at",
            "lines",
            "open_exceptions",
        ]
        read_only_fields = fields

    @extend_schema_field(MatchSummarySerializer)
    def get_match(self, invoice):
        result = invoice.match_result or {}
        summary = {
            "matched": result.get("matched"),
            "waiting_for_receipt": bool(result.get("waiting_for_receipt")),
            "variances": result.get("variances", []),
        }
        return MatchSummarySerializer(summary).data

    @extend_schema_field(VoucherSerializer(allow_null=True))
    def get_voucher(self, invoice):
        return VoucherSerializer(invoice.voucher).data if _has_voucher(invoice) else None

    @extend_schema_field(DocumentExceptionSerializer(many=True))
    def get_open_exceptions(self, invoice):
        return DocumentExceptionSerializer(
            self.context.get("open_exceptions", []), many=True, context=self.context
        ).data


def _has_voucher(invoice: Invoice) -> bool:
    try:
        return invoice.voucher is not None
    except APVoucher.DoesNotExist:
        return False


# --- Receipts and ship notices --------------------------------------------------------------------


class ReceiptLineSerializer(serializers.ModelSerializer):
    po_line = serializers.CharField(source="po_line.line_number")
    item = serializers.CharField(source="po_line.item.code")

    class Meta:
        model = ReceiptLine
        fields = ["po_line", "item", "quantity", "lot", "serial", "expiry"]
        read_only_fields = fields


class ReceiptSerializer(serializers.ModelSerializer):
    purchase_order = serializers.CharField(source="purchase_order.po_number")
    supplier = serializers.CharField(source="purchase_order.supplier.code")
    source_transaction = serializers.PrimaryKeyRelatedField(read_only=True)
    lines = ReceiptLineSerializer(many=True)

    class Meta:
        model = Receipt
        fields = [
            "receipt_id",
            "purchase_order",
            "supplier",
            "received_date",
            "source_transaction",
            "created_at",
            "lines",
        ]
        read_only_fields = fields


class ShipNoticeLookupQuerySerializer(serializers.Serializer):
    supplier = serializers.CharField(
        required=False, max_length=40, help_text="Supplier code, when several share the number."
    )


class ShipNoticeLineSerializer(serializers.ModelSerializer):
    purchase_order = serializers.CharField(source="po_line.purchase_order.po_number")
    po_line = serializers.CharField(source="po_line.line_number")
    item = serializers.CharField(source="po_line.item.code")

    class Meta:
        model = ShipNoticeLine
        fields = ["purchase_order", "po_line", "item", "quantity", "lot", "serial", "expiry"]
        read_only_fields = fields


class ShipNoticeSerializer(serializers.ModelSerializer):
    supplier = SupplierRefSerializer()
    source_transaction = serializers.PrimaryKeyRelatedField(read_only=True)
    lines = ShipNoticeLineSerializer(many=True)

    class Meta:
        model = ShipNotice
        fields = [
            "shipment_id",
            "supplier",
            "ship_date",
            "expected_date",
            "source_transaction",
            "created_at",
            "lines",
        ]
        read_only_fields = fields
