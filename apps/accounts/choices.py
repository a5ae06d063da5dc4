"""Enumerations of the accounts app."""

from django.db import models


class ApiTokenScopeChoices(models.TextChoices):
    READ = "read", "Read status"
    REPLAY = "replay", "Replay transactions and exceptions"
