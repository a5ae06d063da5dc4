"""Accounts: roles as groups, product capabilities as permissions, login with throttling, API
tokens."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        from auditlog.registry import auditlog
        from django.contrib.auth.models import Group, User

        from apps.accounts.models import ApiToken

        auditlog.register(Group, m2m_fields={"permissions"})
        auditlog.register(
            User,
            include_fields=["username", "email", "is_active", "is_staff", "is_superuser", "groups"],
            m2m_fields={"groups"},
        )
        # The hash never enters the audit log; last use is noted by a bare UPDATE, not audited.
        auditlog.register(ApiToken, exclude_fields=["key_hash", "last_used_at"])
        # Roles need every app's permissions, which exist only after migrate; keeping them in
        # step after each migrate makes role setup idempotent with no manual step.
        post_migrate.connect(_sync_roles_after_migrate, sender=self)


def _sync_roles_after_migrate(sender, using, **kwargs) -> None:
    from apps.accounts.services import roles_sync

    roles_sync(using=using)
