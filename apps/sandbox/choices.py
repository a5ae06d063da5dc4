"""Enumerations of the sandbox app."""

from django.db import models


class FaultModeChoices(models.TextChoices):
    STATUS = "status", "Answer with an HTTP status (e.g. 503, 429 with Retry-After)"
    LATENCY = "latency", "Answer slowly, then normally"
    TIMEOUT = "timeout", "Commit, but answer only after the caller gave up"
    REJECT = "reject", "Business rejection (422)"
    LOSE_ANSWER = "lose_answer", "Commit, then fail with 502 as if the answer was lost"


class ErpDocumentKindChoices(models.TextChoices):
    PURCHASE_ORDER = "purchase_order", "Purchase order"
    RECEIPT = "receipt", "Goods receipt"
    AP_VOUCHER = "ap_voucher", "AP voucher"
