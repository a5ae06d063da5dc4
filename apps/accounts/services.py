"""Account services: keep role groups in step, throttle logins, create demo users."""

import hashlib
import logging

from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission, User
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q

from apps.accounts.roles import ROLES, Role

logger = logging.getLogger(__name__)


def _permissions_for(role: Role, *, using: str) -> list[Permission]:
    queryset = Permission.objects.using(using).select_related("content_type")
    if "*" in role.permissions:
        return list(queryset)
    wanted = Q()
    for name in role.permissions:
        app_label, codename = name.split(".", 1)
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    found = list(queryset.filter(wanted))
    missing = role.permissions - {f"{p.content_type.app_label}.{p.codename}" for p in found}
    if missing:
        raise LookupError(f"Role {role.name} names unknown permissions: {sorted(missing)}")
    return found


@transaction.atomic
def roles_sync(*, using: str = "default") -> list[Group]:
    """Create or update one group per role with exactly the role's permissions. Idempotent."""
    # Permissions of apps migrated after this one may not exist yet during post_migrate.
    for app_config in django_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    groups = []
    for role in ROLES:
        group, _ = Group.objects.using(using).get_or_create(name=role.name)
        wanted = _permissions_for(role, using=using)
        current = set(group.permissions.values_list("id", flat=True))
        if current != {p.id for p in wanted}:
            group.permissions.set(wanted)
            logger.info("role %s now has %d permissions", role.slug, len(wanted))
        groups.append(group)
    return groups


def role_group(role: Role) -> Group:
    return Group.objects.get(name=role.name)


# --- Login throttling ---------------------------------------------------------------------------


def _throttle_key(username: str, remote_addr: str) -> str:
    # Hash so neither user names nor addresses sit in Redis in clear.
    digest = hashlib.sha256(f"{username.lower()}|{remote_addr}".encode()).hexdigest()
    return f"login-failures:{digest}"


def login_is_throttled(*, username: str, remote_addr: str) -> bool:
    failures = cache.get(_throttle_key(username, remote_addr), 0)
    return failures >= settings.LOGIN_THROTTLE_ATTEMPTS


def login_failure_record(*, username: str, remote_addr: str) -> int:
    key = _throttle_key(username, remote_addr)
    window = settings.LOGIN_THROTTLE_WINDOW_SECONDS
    if cache.add(key, 1, timeout=window):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        return 1


def login_success_record(*, username: str, remote_addr: str) -> None:
    cache.delete(_throttle_key(username, remote_addr))


# --- Demo users ---------------------------------------------------------------------------------

DEMO_USERS = (
    ("alice", "ap_analyst", "Alice Archer"),
    ("bob", "supply_chain_analyst", "Bob Baker"),
    ("carol", "revenue_integrity_analyst", "Carol Chen"),
    ("dave", "integration_engineer", "Dave Diaz"),
    ("erin", "data_steward", "Erin Evans"),
    ("sam", "data_steward", "Sam Silva"),  # a second steward: approves what erin proposes
    ("frank", "auditor", "Frank Fischer"),
    ("grace", "viewer", "Grace Green"),
    ("admin", "admin", "Ada Admin"),
)


def demo_password(username: str) -> str:
    return f"demo-{username}"


@transaction.atomic
def demo_users_ensure() -> list[tuple[str, str, str]]:
    """Create one user per role for the demo. Refuses outside demo mode (and the tests)."""
    if settings.MODE not in {"demo", "test"}:
        raise RuntimeError("Demo users exist only in demo mode (HUBCONSOLE_MODE=demo).")
    roles = {role.slug: role for role in ROLES}
    created = []
    for username, role_slug, full_name in DEMO_USERS:
        role = roles[role_slug]
        first, last = full_name.split(" ", 1)
        user, new = User.objects.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "email": f"{username}@example.org"},
        )
        if new:
            user.set_password(demo_password(username))
        user.is_staff = role.staff
        user.is_superuser = role.slug == "admin"
        user.save()
        user.groups.set([role_group(role)])
        created.append((username, role.name, demo_password(username)))
    return created
