"""Enumerations of the master-data app."""

from django.db import models


class RecordStatusChoices(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    MERGED = "merged", "Merged into another record"


class SupplierStatusChoices(models.TextChoices):
    ACTIVE = "active", "Active"
    BLOCKED = "blocked", "Blocked"
    INACTIVE = "inactive", "Inactive"
    MERGED = "merged", "Merged into another record"


class FacilityKindChoices(models.TextChoices):
    HOSPITAL = "hospital", "Hospital"
    CLINIC = "clinic", "Clinic"
    LOCATION = "location", "Location (ward, OR, store room)"


class AccountTypeChoices(models.TextChoices):
    ASSET = "asset", "Asset"
    LIABILITY = "liability", "Liability"
    EQUITY = "equity", "Equity"
    REVENUE = "revenue", "Revenue"
    EXPENSE = "expense", "Expense"


class ApprovalStatusChoices(models.TextChoices):
    """Lifecycle of governed mappings: proposed by one steward, approved by another."""

    DRAFT = "draft", "Waiting for approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    RETIRED = "retired", "Retired"


class ToleranceLevelChoices(models.TextChoices):
    HEADER = "header", "Invoice header"
    LINE = "line", "Invoice line"


class ToleranceMeasureChoices(models.TextChoices):
    PRICE = "price", "Price"
    QUANTITY = "quantity", "Quantity"
    AMOUNT = "amount", "Amount"
    TAX = "tax", "Tax"
