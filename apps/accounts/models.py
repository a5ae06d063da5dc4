"""Product capabilities that are not about one model (DESIGN §9), as Django permissions."""

from django.db import models


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
