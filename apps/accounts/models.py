"""Product capabilities that are not about one model (DESIGN §9), as Django permissions, and
the API tokens of the status API."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.accounts.choices import ApiTokenScopeChoices


class Capability(models.Model):
    """Holder of the product-wide permissions; it has no table.

    Check them as ``user.has_perm("accounts.<codename>")``.
    """

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("view_payload", "Can view raw payloads (may contain patient data)"),
            ("replay", "Can replay a transaction"),
            ("edit_and_replay", "Can edit a canonical document and replay it"),
            ("bulk_replay", "Can replay transactions in bulk"),
            ("fix_mapping", "Can propose a mapping fix"),
            ("approve_mapping", "Can approve a mapping change"),
            ("administer_connectors", "Can pause, resume and configure connectors"),
        ]

    def __str__(self) -> str:
        return "HubConsole capability"


class ApiToken(models.Model):
    """A bearer token for the status API (``/api/v1``): hashed, scoped, expiring, revocable.

    Only the SHA-256 of the secret is stored; the secret (``hc_<prefix>_<random>``) is shown once,
    when the token is created. ``key_prefix`` names the token in lists and is how a presented
    secret finds its row. A request made with a token holds its owner's permissions, further
    limited to the token's scopes.
    """

    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'ERP status'.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    key_prefix = models.CharField(max_length=8, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    scopes = ArrayField(
        models.CharField(max_length=20, choices=ApiTokenScopeChoices.choices), default=list
    )
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"
        constraints = [
            models.CheckConstraint(
                condition=Q(scopes__len__gt=0)
                & Q(scopes__contained_by=ApiTokenScopeChoices.values),
                name="apitoken_scopes_known",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix})"

    def state(self, now=None) -> str:
        """``active``, ``revoked`` or ``expired``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= (now or timezone.now()):
            return "expired"
        return "active"
