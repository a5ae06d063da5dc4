"""Enumerations of the EDI app."""

from django.db import models


class AcknowledgmentChoices(models.TextChoices):
    FA997 = "997", "997 functional acknowledgment"
    IA999 = "999", "999 implementation acknowledgment"
    NONE = "none", "No acknowledgment"
