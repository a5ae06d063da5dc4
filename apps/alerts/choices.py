"""Enumerations of the alerts app."""

from django.db import models


class WeekdayChoices(models.IntegerChoices):
    """ISO weekdays, as ``date.isoweekday()`` numbers them."""

    MONDAY = 1, "Monday"
    TUESDAY = 2, "Tuesday"
    WEDNESDAY = 3, "Wednesday"
    THURSDAY = 4, "Thursday"
    FRIDAY = 5, "Friday"
    SATURDAY = 6, "Saturday"
    SUNDAY = 7, "Sunday"


class AlertKindChoices(models.TextChoices):
    AT_RISK = "at_risk", "At risk"
    BREACHED = "breached", "Breached"
    ESCALATION = "escalation", "Escalation"
    DIGEST = "digest", "Digest"


class AlertStatusChoices(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    # The exception was closed before its alert went out: nobody needs to act any more.
    CANCELLED = "cancelled", "Cancelled"


class SlaStateChoices(models.TextChoices):
    ON_TRACK = "on_track", "On track"
    AT_RISK = "at_risk", "At risk"
    BREACHED = "breached", "Breached"
