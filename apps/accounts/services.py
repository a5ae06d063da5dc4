"""Account services: keep role groups in step, throttle logins, create demo users, issue and
check API tokens."""

import hashlib
import hmac
import logging
import re
import secrets
from datetime import timedelta

from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission, User
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.accounts.choices import ApiTokenScopeChoices
from apps.accounts.models import ApiToken
from apps.accounts.roles import ROLES, Role
from apps.core.audit import acting_as
from apps.core.errors import HubError, InputRejected, PermissionDenied

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


# --- API tokens ---------------------------------------------------------------------------------

API_TOKEN_MAX_DAYS = 365
# last_used_at is written at most this often per token, so a busy client costs no write per call.
API_TOKEN_TOUCH_SECONDS = 60
_SECRET_FORMAT = re.compile(r"^hc_([0-9a-f]{8})_[A-Za-z0-9_-]{43}$")
# Compared against when no token has the presented prefix, so a miss costs what a hit costs.
_NO_TOKEN_HASH = hashlib.sha256(b"no such token").hexdigest()


def api_token_hash(secret: str) -> str:
    # A plain digest suffices: secrets are 256 random bits, so there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_token_create(
    *, owner, name: str, scopes: list[str], days: int, actor
) -> tuple[ApiToken, str]:
    """Issue a token for ``owner``; returns it with its secret, which is never stored or shown
    again. ``actor`` is the administrator issuing it (None for the command line)."""
    if actor is not None and not actor.has_perm("accounts.add_apitoken"):
        raise PermissionDenied("You may not create API tokens.")
    name = (name or "").strip()
    wanted = sorted(set(scopes or []))
    if not name or len(name) > 100:
        raise InputRejected("API_TOKEN_INVALID", "A token needs a name of 1 to 100 characters.")
    if not wanted or not set(wanted) <= set(ApiTokenScopeChoices.values):
        raise InputRejected(
            "API_TOKEN_INVALID",
            f"Scopes must be among {', '.join(ApiTokenScopeChoices.values)}; got {wanted}.",
        )
    if not 1 <= days <= API_TOKEN_MAX_DAYS:
        raise InputRejected(
            "API_TOKEN_INVALID", f"A token lasts 1 to {API_TOKEN_MAX_DAYS} days, not {days}."
        )
    if not owner.is_active:
        raise InputRejected("API_TOKEN_INVALID", "The owner's account is disabled.")
    prefix = secrets.token_hex(4)
    while ApiToken.objects.filter(key_prefix=prefix).exists():  # one in four billion
        prefix = secrets.token_hex(4)
    secret = f"hc_{prefix}_{secrets.token_urlsafe(32)}"
    with acting_as(actor):
        token = ApiToken.objects.create(
            name=name,
            owner=owner,
            key_prefix=prefix,
            key_hash=api_token_hash(secret),
            scopes=wanted,
            expires_at=timezone.now() + timedelta(days=days),
        )
    logger.info("api token %s issued to user %s", prefix, owner.pk)
    return token, secret


@transaction.atomic
def api_token_revoke(*, token_id: int, actor) -> ApiToken:
    """Revoke a token at once; revoking a revoked token changes nothing."""
    if actor is not None and not actor.has_perm("accounts.change_apitoken"):
        raise PermissionDenied("You may not revoke API tokens.")
    token = ApiToken.objects.select_for_update().get(pk=token_id)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        with acting_as(actor):
            token.save(update_fields=["revoked_at"])
        logger.info("api token %s revoked", token.key_prefix)
    return token


def api_token_authenticate(*, secret: str) -> ApiToken:
    """The live token whose secret this is, its owner loaded; raises TOKEN_INVALID,
    TOKEN_EXPIRED or TOKEN_REVOKED. Notes the use at most once a minute."""
    match = _SECRET_FORMAT.fullmatch(secret)
    token = None
    if match:
        token = ApiToken.objects.select_related("owner").filter(key_prefix=match[1]).first()
    expected = token.key_hash if token is not None else _NO_TOKEN_HASH
    # Constant-time: how much of a hash matched must not show in the response time.
    if not hmac.compare_digest(api_token_hash(secret), expected) or token is None:
        raise HubError("TOKEN_INVALID", "The API token is not valid.")
    now = timezone.now()
    if token.revoked_at is not None:
        raise HubError(
            "TOKEN_REVOKED", f"This API token was revoked on {token.revoked_at:%Y-%m-%d %H:%M} UTC."
        )
    if token.expires_at <= now:
        raise HubError(
            "TOKEN_EXPIRED",
            f"This API token expired on {token.expires_at:%Y-%m-%d %H:%M} UTC; "
            "ask an administrator for a new one.",
        )
    if not token.owner.is_active:
        raise HubError("TOKEN_INVALID", "The owner of this API token is disabled.")
    stale = now - timedelta(seconds=API_TOKEN_TOUCH_SECONDS)
    if token.last_used_at is None or token.last_used_at < stale:
        # A conditional update: concurrent requests write it once, and no audit row is made.
        ApiToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale)
        ).update(last_used_at=now)
        token.last_used_at = now
    return token
