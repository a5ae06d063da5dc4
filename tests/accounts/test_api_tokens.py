"""API tokens: issued with a secret shown once and stored hashed, scoped, expiring, revocable,
audited without the hash; through the service, the management command and the admin."""

import hashlib
import io
import re

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import ApiToken
from apps.accounts.services import (
    api_token_authenticate,
    api_token_create,
    api_token_revoke,
)
from apps.core.errors import HubError, InputRejected, PermissionDenied

pytestmark = pytest.mark.django_db

SECRET = re.compile(r"^hc_([0-9a-f]{8})_[A-Za-z0-9_-]{43}$")
API_LIST = "/api/v1/transactions/"


@pytest.fixture
def admin_user(db):
    return User.objects.create_superuser("ada", "ada@example.org", "pw-ada")


def test_create_returns_the_secret_once_and_stores_only_its_hash(viewer, admin_user):
    token, secret = api_token_create(
        owner=viewer, name="ERP status", scopes=["read"], days=90, actor=admin_user
    )

    match = SECRET.fullmatch(secret)
    assert match
    token.refresh_from_db()
    assert token.key_prefix == match[1]
    assert token.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiToken.objects.filter(pk=token.pk).values().get())
    assert token.scopes == ["read"]
    days = (token.expires_at - timezone.now()).total_seconds() / 86400
    assert 89.9 < days <= 90


def test_creation_is_audited_without_the_hash_and_attributed(viewer, admin_user):
    token, _ = api_token_create(
        owner=viewer, name="ERP", scopes=["read", "replay"], days=30, actor=admin_user
    )

    entry = LogEntry.objects.get(
        content_type=ContentType.objects.get_for_model(ApiToken), object_pk=str(token.pk)
    )
    assert entry.actor == admin_user
    assert "key_hash" not in entry.changes_dict
    assert token.key_hash not in str(entry.changes)
    assert "scopes" in entry.changes_dict


@pytest.mark.parametrize(
    ("scopes", "days", "name"),
    [
        (["read"], 366, "too long"),
        (["read"], 0, "no time"),
        ([], 30, "no scope"),
        (["admin"], 30, "unknown scope"),
        (["read"], 30, ""),
    ],
)
def test_create_refuses_bad_requests(viewer, scopes, days, name):
    with pytest.raises(InputRejected) as error:
        api_token_create(owner=viewer, name=name, scopes=scopes, days=days, actor=None)
    assert error.value.code == "API_TOKEN_INVALID"
    assert not ApiToken.objects.exists()


def test_only_administrators_issue_and_revoke_tokens(engineer, viewer, admin_user):
    with pytest.raises(PermissionDenied):
        api_token_create(owner=engineer, name="mine", scopes=["read"], days=30, actor=engineer)
    token, _ = api_token_create(owner=viewer, name="x", scopes=["read"], days=30, actor=admin_user)
    with pytest.raises(PermissionDenied):
        api_token_revoke(token_id=token.pk, actor=engineer)


def test_revoke_is_immediate_and_idempotent(viewer, admin_user):
    token, secret = api_token_create(owner=viewer, name="x", scopes=["read"], days=30, actor=None)

    first = api_token_revoke(token_id=token.pk, actor=admin_user).revoked_at
    again = api_token_revoke(token_id=token.pk, actor=admin_user).revoked_at

    assert first == again is not None
    with pytest.raises(HubError) as error:
        api_token_authenticate(secret=secret)
    assert error.value.code == "TOKEN_REVOKED"


def test_last_use_is_written_at_most_once_a_minute(viewer, django_assert_num_queries):
    token, secret = api_token_create(owner=viewer, name="x", scopes=["read"], days=30, actor=None)

    with django_assert_num_queries(2):  # the lookup and the first note of use
        api_token_authenticate(secret=secret)
    noted = ApiToken.objects.get(pk=token.pk).last_used_at
    with django_assert_num_queries(1):  # the lookup only
        api_token_authenticate(secret=secret)
    assert ApiToken.objects.get(pk=token.pk).last_used_at == noted

    ApiToken.objects.update(last_used_at=noted - timezone.timedelta(minutes=2))
    api_token_authenticate(secret=secret)
    assert ApiToken.objects.get(pk=token.pk).last_used_at > noted


def test_a_secret_differing_in_one_character_is_refused(viewer):
    _, secret = api_token_create(owner=viewer, name="x", scopes=["read"], days=30, actor=None)
    last = "A" if secret[-1] != "A" else "B"

    with pytest.raises(HubError) as error:
        api_token_authenticate(secret=secret[:-1] + last)
    assert error.value.code == "TOKEN_INVALID"


# --- The management command -------------------------------------------------------------------


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("api_token", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_command_creates_a_token_whose_secret_authenticates_and_revoke_stops_it(viewer):
    secret = run(
        "create", "--user", "grace", "--name", "ERP", "--scope", "read", "--days", "90"
    ).strip()
    prefix = SECRET.fullmatch(secret)[1]
    headers = {"Authorization": f"Bearer {secret}"}

    assert Client().get(API_LIST, headers=headers).status_code == 200
    listing = run("list")
    assert prefix in listing
    assert "active" in listing
    assert secret not in listing

    assert run("revoke", "--prefix", prefix).startswith(f"Revoked {prefix}")
    response = Client().get(API_LIST, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "TOKEN_REVOKED"
    assert "revoked" in run("list")


def test_command_takes_both_scopes_and_refuses_bad_input(viewer):
    run("create", "--user", "grace", "--name", "x", "--scope", "read", "--scope", "replay")
    assert ApiToken.objects.get().scopes == ["read", "replay"]

    with pytest.raises(CommandError, match="No user named"):
        run("create", "--user", "nobody", "--name", "x", "--scope", "read")
    with pytest.raises(CommandError, match="1 to 365 days"):
        run("create", "--user", "grace", "--name", "x", "--scope", "read", "--days", "400")
    with pytest.raises(CommandError, match="No token with prefix"):
        run("revoke", "--prefix", "ffffffff")


# --- The admin ----------------------------------------------------------------------------------


def test_admin_creates_a_token_and_shows_the_secret_once(client, admin_user, viewer):
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:accounts_apitoken_add"),
        {"name": "Billing status", "owner": viewer.pk, "scopes": ["read"], "days": "30"},
        follow=True,
    )

    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    secret = next(SECRET.search(m.split(": ")[-1]).group(0) for m in shown if "hc_" in m)
    token = ApiToken.objects.get()
    assert (token.name, token.owner, token.scopes) == ("Billing status", viewer, ["read"])
    assert Client().get(API_LIST, headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    # Never again: not on the list, not on the token's page.
    listing = client.get(reverse("admin:accounts_apitoken_changelist")).content.decode()
    page = client.get(reverse("admin:accounts_apitoken_change", args=[token.pk])).content
    assert token.key_prefix in listing
    assert secret not in listing
    assert secret.encode() not in page
    assert token.key_hash.encode() not in page


def test_admin_refuses_more_than_a_year(client, admin_user, viewer):
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:accounts_apitoken_add"),
        {"name": "x", "owner": viewer.pk, "scopes": ["read"], "days": "400"},
    )

    assert response.status_code == 200  # the form again, with its error
    assert not ApiToken.objects.exists()


def test_admin_revoke_action(client, admin_user, viewer):
    token, secret = api_token_create(owner=viewer, name="x", scopes=["read"], days=30, actor=None)
    client.force_login(admin_user)

    client.post(
        reverse("admin:accounts_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
    )

    token.refresh_from_db()
    assert token.revoked_at is not None
    assert Client().get(API_LIST, headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_integration_engineers_cannot_open_api_tokens_in_the_admin(client, engineer):
    client.force_login(engineer)

    assert client.get(reverse("admin:accounts_apitoken_changelist")).status_code == 403
