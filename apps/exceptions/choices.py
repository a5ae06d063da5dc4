"""Enumerations of the exceptions app."""

from django.db import models


class ExceptionCategoryChoices(models.TextChoices):
    TECHNICAL = "technical", "Technical"
    MASTER_DATA = "master_data", "Master data"
    PROCURE_TO_PAY = "procure_to_pay", "Procure-to-pay"
    USAGE_TO_CHARGE = "usage_to_charge", "Usage-to-charge"
    CLAIMS = "claims", "Claims and remittance"
    FINANCE = "finance", "Finance posting"


class SeverityChoices(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class BusinessExceptionStatusChoices(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    RESOLVED = "resolved", "Resolved"
    IGNORED = "ignored", "Ignored"
    REJECTED = "rejected", "Rejected"


OPEN_STATUSES = (BusinessExceptionStatusChoices.OPEN, BusinessExceptionStatusChoices.IN_PROGRESS)


class ExceptionActionChoices(models.TextChoices):
    ASSIGN = "assign", "Assign or claim"
    COMMENT = "comment", "Comment"
    REPLAY = "replay", "Replay"
    EDIT_REPLAY = "edit_replay", "Edit and replay"
    ACCEPT_VARIANCE = "accept_variance", "Accept variance"
    HOLD = "hold", "Hold"
    REJECT = "reject", "Reject"
    FIX_MAPPING = "fix_mapping", "Fix mapping"
    RESOLVE = "resolve", "Resolve"
    IGNORE = "ignore", "Ignore"


class ExceptionActivityKindChoices(models.TextChoices):
    OPENED = "opened", "Opened"
    REOCCURRED = "reoccurred", "Occurred again"
    ASSIGNED = "assigned", "Assigned"
    COMMENTED = "commented", "Commented"
    STATUS_CHANGED = "status_changed", "Status changed"
    REPLAY_REQUESTED = "replay_requested", "Replay requested"
    RESOLVED = "resolved", "Resolved"
    IGNORED = "ignored", "Ignored"
    HELD = "held", "Put on hold"
    RELEASED = "released", "Hold released"
    REJECTED = "rejected", "Rejected"
    EDITED = "edited", "Edited and replayed"
    MAPPING_PROPOSED = "mapping_proposed", "Mapping proposed"
