"""What every canonical record shares: a code, a validity window and a status."""

import datetime

from django.db import models
from django.db.models import F, Q

from apps.masterdata.choices import RecordStatusChoices

# Records valid "since always" start here; a real start date can be set per record.
BEGINNING = datetime.date(2000, 1, 1)


class EffectiveDated(models.Model):
    """Valid from ``effective_from`` through ``effective_to`` (inclusive; empty = open)."""

    effective_from = models.DateField(default=BEGINNING)
    effective_to = models.DateField(null=True, blank=True)

    class Meta:
        abstract = True

    def is_effective(self, on: datetime.date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)


def effective_window_check(name: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(effective_to__isnull=True) | Q(effective_to__gte=F("effective_from")),
        name=name,
    )


class CanonicalRecord(EffectiveDated):
    """A governed master record with a unique canonical code."""

    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    status = models.CharField(
        max_length=20, choices=RecordStatusChoices.choices, default=RecordStatusChoices.ACTIVE
    )

    class Meta:
        abstract = True
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"
