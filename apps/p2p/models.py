"""Procure-to-pay business documents: the current state of each PO, shipment, receipt, invoice
and AP voucher, built from many transactions; what matching and reconciliation run on."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.p2p.choices import (
    InvoiceKindChoices,
    InvoiceStatusChoices,
    PurchaseOrderStatusChoices,
    VoucherStatusChoices,
)

MONEY = {"max_digits": 14, "decimal_places": 2}
QUANTITY = {"max_digits": 14, "decimal_places": 4}
PRICE = {"max_digits": 14, "decimal_places": 4}


class PurchaseOrder(models.Model):
    """A purchase order as HubConsole knows it: what procurement ordered, what the ERP and the
    supplier said, and (on its lines) how much was shipped, received and invoiced."""

    po_number = models.CharField(max_length=60, unique=True)
    revision = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=20, choices=PurchaseOrderStatusChoices.choices)
    supplier = models.ForeignKey(
        "masterdata.Supplier", on_delete=models.PROTECT, related_name="purchase_orders"
    )
    legal_entity = models.ForeignKey(
        "masterdata.LegalEntity", on_delete=models.PROTECT, related_name="+"
    )
    facility = models.ForeignKey(
        "masterdata.Facility", on_delete=models.PROTECT, null=True, related_name="+"
    )
    cost_center = models.ForeignKey(
        "masterdata.CostCenter", on_delete=models.PROTECT, related_name="purchase_orders"
    )
    currency = models.CharField(max_length=3, default="USD")
    po_date = models.DateField()
    total_amount = models.DecimalField(**MONEY)
    requisition_number = models.CharField(max_length=60, blank=True)
    erp_reference = models.CharField(max_length=60, blank=True)
    ack_status = models.CharField(max_length=20, blank=True)
    source_transaction = models.ForeignKey(
        "pipeline.Transaction", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    correlation_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["supplier", "status"], name="po_supplier_status_idx"),
            models.Index(fields=["cost_center", "po_date"], name="po_cost_center_date_idx"),
            models.Index(
                fields=["requisition_number"],
                condition=~Q(requisition_number=""),
                name="po_requisition_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.po_number


class PurchaseOrderLine(models.Model):
    """One PO line, in the PO's unit, with the running totals matching needs."""

    purchase_order = models.ForeignKey(
        PurchaseOrder, on_delete=models.CASCADE, related_name="lines"
    )
    line_number = models.CharField(max_length=20)
    item = models.ForeignKey("masterdata.Item", on_delete=models.PROTECT, related_name="+")
    vendor_part = models.CharField(max_length=80, blank=True)
    gtin = models.CharField(max_length=14, blank=True)
    description = models.CharField(max_length=300, blank=True)
    unit = models.CharField(max_length=10)
    quantity = models.DecimalField(**QUANTITY)
    unit_price = models.DecimalField(**PRICE)
    acknowledged_quantity = models.DecimalField(**QUANTITY, null=True)
    acknowledged_price = models.DecimalField(**PRICE, null=True)
    ack_status = models.CharField(max_length=20, blank=True)
    shipped_quantity = models.DecimalField(**QUANTITY, default=0)
    received_quantity = models.DecimalField(**QUANTITY, default=0)
    invoiced_quantity = models.DecimalField(**QUANTITY, default=0)
    invoiced_amount = models.DecimalField(**MONEY, default=0)

    class Meta:
        ordering = ["purchase_order", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["purchase_order", "line_number"], name="po_line_number_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.purchase_order_id}/{self.line_number}"


class ShipNotice(models.Model):
    """An advance ship notice from the supplier: what is on its way for which PO lines."""

    supplier = models.ForeignKey("masterdata.Supplier", on_delete=models.PROTECT, related_name="+")
    shipment_id = models.CharField(max_length=60)
    ship_date = models.DateField(null=True)
    expected_date = models.DateField(null=True)
    source_transaction = models.ForeignKey(
        "pipeline.Transaction", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["supplier", "shipment_id"], name="asn_once")]
        indexes = [models.Index(fields=["shipment_id"], name="asn_shipment_idx")]

    def __str__(self) -> str:
        return self.shipment_id


class ShipNoticeLine(models.Model):
    ship_notice = models.ForeignKey(ShipNotice, on_delete=models.CASCADE, related_name="lines")
    po_line = models.ForeignKey(PurchaseOrderLine, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(**QUANTITY)
    lot = models.CharField(max_length=60, blank=True)
    serial = models.CharField(max_length=60, blank=True)
    expiry = models.DateField(null=True)

    def __str__(self) -> str:
        return f"{self.ship_notice_id}: {self.quantity}"


class Receipt(models.Model):
    """Goods received at a facility against a PO (from the inventory system)."""

    receipt_id = models.CharField(max_length=60, unique=True)
    purchase_order = models.ForeignKey(
        PurchaseOrder, on_delete=models.PROTECT, related_name="receipts"
    )
    received_date = models.DateField()
    source_transaction = models.ForeignKey(
        "pipeline.Transaction", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["received_date"], name="receipt_date_idx")]

    def __str__(self) -> str:
        return self.receipt_id


class ReceiptLine(models.Model):
    """A received quantity, converted to the PO line's unit."""

    receipt = models.ForeignKey(Receipt, on_delete=models.CASCADE, related_name="lines")
    po_line = models.ForeignKey(
        PurchaseOrderLine, on_delete=models.PROTECT, related_name="receipt_lines"
    )
    quantity = models.DecimalField(**QUANTITY)
    lot = models.CharField(max_length=60, blank=True)
    serial = models.CharField(max_length=60, blank=True)
    expiry = models.DateField(null=True)

    def __str__(self) -> str:
        return f"{self.receipt_id}: {self.quantity}"


class Invoice(models.Model):
    """A supplier invoice or credit memo and where it stands in matching.

    One row per (supplier, number, kind): the same number arriving again from another
    transaction is a DUPLICATE_INVOICE on that transaction, never a second row.
    """

    supplier = models.ForeignKey(
        "masterdata.Supplier", on_delete=models.PROTECT, related_name="invoices"
    )
    invoice_number = models.CharField(max_length=60)
    kind = models.CharField(
        max_length=20, choices=InvoiceKindChoices.choices, default=InvoiceKindChoices.INVOICE
    )
    status = models.CharField(max_length=20, choices=InvoiceStatusChoices.choices)
    purchase_order = models.ForeignKey(
        PurchaseOrder, on_delete=models.PROTECT, null=True, related_name="invoices"
    )
    invoice_date = models.DateField()
    currency = models.CharField(max_length=3, default="USD")
    lines_amount = models.DecimalField(**MONEY)
    charges_amount = models.DecimalField(**MONEY, default=0)
    tax_amount = models.DecimalField(**MONEY, default=0)
    total_amount = models.DecimalField(**MONEY)
    # Per line and header: what was compared, the tolerance used and the variance found.
    match_result = models.JSONField(default=dict, blank=True)
    matched_at = models.DateTimeField(null=True)
    source_transaction = models.ForeignKey(
        "pipeline.Transaction", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    channel = models.CharField(max_length=60, blank=True)  # connector slug it came through
    correlation_id = models.CharField(max_length=64)
    # A variance a person accepted within their authority: the variances as they were then,
    # so a replay matches them as accepted (and only them: a new difference is new).
    accepted_variances = models.JSONField(default=list, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True)
    accepted_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["supplier", "invoice_number", "kind"], name="invoice_once"
            )
        ]
        permissions = [
            ("accept_variance", "Can accept an invoice variance within their authority"),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="invoice_status_idx"),
            models.Index(fields=["purchase_order"], name="invoice_po_idx"),
            # Search by number alone (the console's and the API's business-key search).
            models.Index(fields=["invoice_number"], name="invoice_number_idx"),
        ]

    def __str__(self) -> str:
        return self.invoice_number


class InvoiceLine(models.Model):
    """An invoiced line, in the invoice's unit and, converted, in the PO line's unit."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    line_number = models.CharField(max_length=20)
    po_line = models.ForeignKey(
        PurchaseOrderLine, on_delete=models.PROTECT, null=True, related_name="invoice_lines"
    )
    unit = models.CharField(max_length=10)
    quantity = models.DecimalField(**QUANTITY)
    unit_price = models.DecimalField(**PRICE)
    amount = models.DecimalField(**MONEY)
    tax_amount = models.DecimalField(**MONEY, default=0)
    po_unit_quantity = models.DecimalField(**QUANTITY, null=True)
    po_unit_price = models.DecimalField(**PRICE, null=True)

    def __str__(self) -> str:
        return f"{self.invoice_id}: {self.quantity}"


class VarianceAuthority(models.Model):
    """How large an invoice variance members of a role may accept (DESIGN §2: AP analysts
    accept variances within their authority). A person's authority is the highest of their
    roles'; without one, they may accept none."""

    group = models.OneToOneField(
        "auth.Group", on_delete=models.CASCADE, related_name="variance_authority"
    )
    max_amount = models.DecimalField(**MONEY)

    class Meta:
        verbose_name_plural = "variance authorities"

    def __str__(self) -> str:
        return f"{self.group.name}: up to {self.max_amount}"


class APVoucher(models.Model):
    """The AP voucher a matched invoice becomes in the ERP."""

    invoice = models.OneToOneField(Invoice, on_delete=models.PROTECT, related_name="voucher")
    voucher_id = models.CharField(max_length=80, unique=True)
    status = models.CharField(max_length=20, choices=VoucherStatusChoices.choices)
    amount = models.DecimalField(**MONEY)
    erp_reference = models.CharField(max_length=60, blank=True)
    match_outcome = models.CharField(max_length=30)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["status"], name="voucher_pending_idx", condition=~Q(status="posted")
            )
        ]

    def __str__(self) -> str:
        return self.voucher_id
