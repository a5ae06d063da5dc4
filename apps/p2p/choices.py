"""Enumerations of the procure-to-pay app."""

from django.db import models


class PurchaseOrderStatusChoices(models.TextChoices):
    VALIDATED = "validated", "Validated, going to the ERP"
    IN_ERP = "in_erp", "Created in the ERP, going to the supplier"
    SENT = "sent", "Sent to the supplier"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    ACK_CHANGED = "ack_changed", "Acknowledged with changes"
    REJECTED = "rejected", "Rejected by the supplier"
    SHIPPED = "shipped", "Shipped"
    PARTLY_RECEIVED = "partly_received", "Partly received"
    RECEIVED = "received", "Received"


class InvoiceKindChoices(models.TextChoices):
    INVOICE = "invoice", "Invoice"
    CREDIT_MEMO = "credit_memo", "Credit memo"


class InvoiceStatusChoices(models.TextChoices):
    WAITING_RECEIPT = "waiting_receipt", "Waiting for the goods receipt"
    EXCEPTION = "exception", "Not matched (exception)"
    MATCHED = "matched", "Matched"
    VOUCHERED = "vouchered", "Voucher posted"
    REJECTED = "rejected", "Rejected (never paid)"


class VoucherStatusChoices(models.TextChoices):
    QUEUED = "queued", "Queued for the ERP"
    POSTED = "posted", "Posted in the ERP"


class MatchOutcomeChoices(models.TextChoices):
    MATCHED = "matched", "Matched within tolerance"
    VARIANCE_ACCEPTED = "variance_accepted", "Variance accepted"
