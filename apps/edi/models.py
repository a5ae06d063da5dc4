"""Trading partners: how HubConsole exchanges X12 with each partner."""

from django.core.validators import RegexValidator
from django.db import models

from apps.edi.choices import AcknowledgmentChoices

_ISA_ID = RegexValidator(r"^[A-Za-z0-9 ._-]{1,15}$", "1 to 15 letters, digits, spaces, . _ -")


class TradingPartner(models.Model):
    """One partner's interchange id, where HubConsole's files for it go, which functional
    acknowledgment it wants, and the control numbers HubConsole uses towards it.

    Which supplier a partner is, is master data: a cross-reference of the external system
    ``X12`` with the code ``<qualifier>:<id>`` (e.g. ``ZZ:MEDLINEEDI``), so it is governed and
    resolved like every other mapping.
    """

    name = models.CharField(max_length=120)
    isa_qualifier = models.CharField(max_length=2, default="ZZ")
    isa_id = models.CharField(max_length=15, validators=[_ISA_ID])
    our_isa_qualifier = models.CharField(max_length=2, default="ZZ")
    our_isa_id = models.CharField(max_length=15, default="HUBCONSOLE", validators=[_ISA_ID])
    version = models.CharField(max_length=12, default="004010")
    usage = models.CharField(
        max_length=1, default="P", choices=[("P", "Production"), ("T", "Test")]
    )
    acknowledgment = models.CharField(
        max_length=4, choices=AcknowledgmentChoices.choices, default=AcknowledgmentChoices.FA997
    )
    outbound = models.ForeignKey(
        "connectors.Connector",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="trading_partners",
        help_text="Where HubConsole's files for this partner go (an outbound SFTP connector).",
    )
    enabled = models.BooleanField(default=True)
    last_interchange_control = models.PositiveIntegerField(default=0, editable=False)
    last_group_control = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["isa_qualifier", "isa_id"], name="partner_isa_once")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.isa_qualifier}:{self.isa_id})"

    @property
    def code(self) -> str:
        """The partner's code in master data's X12 system."""
        return f"{self.isa_qualifier}:{self.isa_id}"
