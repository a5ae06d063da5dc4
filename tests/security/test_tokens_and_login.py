"""API tokens and sign-in: the cases tests/api/test_permissions.py, tests/api/test_errors.py,
tests/accounts/test_api_tokens.py and tests/accounts/test_login.py leave open.

- a token is only as strong as its owner's role *now*: losing the role, or moving to a weaker
  one, takes effect on the next call;
- the secret is never at rest in clear: not in any table (sessions decoded), not in the logs,
  whether issued by the admin or the command;
- a bearer token opens the API only, never a console page;
- the Django admin's own sign-in form is throttled like the console's.
"""

import io
import re

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from apps.accounts import roles
from apps.accounts.models import ApiToken
from apps.accounts.services import api_token_create
from tests.security.conftest import NothingWritten, new_client, persona_create

pytestmark = pytest.mark.django_db

SECRET = re.compile(r"hc_[0-9a-f]{8}_[A-Za-z0-9_-]{43}")


def _bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def _issue(user, *scopes: str) -> str:
    _, secret = api_token_create(owner=user, name="t", scopes=list(scopes), days=30, actor=None)
    return secret


# --- Tokens follow their owner's role -------------------------------------------------------


def test_token_stops_working_when_its_owner_loses_the_role(world):
    owner = persona_create("sec-leaver", roles.AP_ANALYST)
    client = new_client(headers=_bearer(_issue(owner, "read", "replay")))
    read = f"/api/v1/exceptions/{world.exception.pk}/"
    replay = f"/api/v1/exceptions/{world.exception.pk}/replay/"
    assert client.get(read).status_code == 200

    owner.groups.clear()

    assert client.get(read).status_code == 403
    with NothingWritten():
        refused = client.post(replay, content_type="application/json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "PERMISSION_DENIED"


def test_token_loses_replay_when_its_owner_moves_to_a_read_only_role(world):
    owner = persona_create("sec-mover", roles.AP_ANALYST)
    client = new_client(headers=_bearer(_issue(owner, "read", "replay")))
    replay = f"/api/v1/transactions/{world.tx.pk}/replay/"

    owner.groups.set([Group.objects.get(name=roles.VIEWER.name)])

    assert client.get(f"/api/v1/transactions/{world.tx.pk}/").status_code == 200
    with NothingWritten():
        assert client.post(replay, content_type="application/json").status_code == 403


def test_token_of_a_deleted_owner_is_refused(world):
    owner = persona_create("sec-gone", roles.VIEWER)
    secret = _issue(owner, "read")
    owner.delete()

    response = new_client(headers=_bearer(secret)).get("/api/v1/transactions/")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "TOKEN_INVALID"


# --- The secret at rest -----------------------------------------------------------------------


def _stored_anywhere(secret: str) -> list[str]:
    """Tables whose rows contain ``secret`` as text, and sessions whose data holds it."""
    found = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT quote_ident(table_name) FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        )
        for (table,) in cursor.fetchall():
            cursor.execute(
                f"SELECT count(*) FROM {table} AS t WHERE t::text LIKE %s",  # noqa: S608
                [f"%{secret}%"],
            )
            if cursor.fetchone()[0]:
                found.append(table)
    found += [f"session {s.pk}" for s in Session.objects.all() if secret in str(s.get_decoded())]
    return found


def test_token_secret_issued_in_the_admin_is_shown_once_and_stored_nowhere(world, caplog):
    client = new_client()
    client.force_login(world.users[roles.ADMIN.slug])
    owner = world.users[roles.VIEWER.slug]

    with caplog.at_level("DEBUG"):
        shown = client.post(
            reverse("admin:accounts_apitoken_add"),
            {"name": "ERP status", "owner": owner.pk, "scopes": ["read"], "days": 30},
            follow=True,
        )
    secrets = SECRET.findall(shown.content.decode())
    assert len(set(secrets)) == 1, "the secret is shown once, on the page after saving"
    secret = secrets[0]

    assert new_client(headers=_bearer(secret)).get("/api/v1/transactions/").status_code == 200
    again = client.get(reverse("admin:accounts_apitoken_changelist")).content.decode()
    token = ApiToken.objects.get(name="ERP status")
    change = client.get(reverse("admin:accounts_apitoken_change", args=[token.pk]))
    assert secret not in again
    assert secret not in change.content.decode()
    assert token.key_hash not in change.content.decode()
    assert _stored_anywhere(secret) == []
    assert secret not in caplog.text


def test_token_secret_issued_by_the_command_is_stored_nowhere(world, caplog):
    out = io.StringIO()
    with caplog.at_level("DEBUG"):
        call_command(
            "api_token",
            "create",
            "--user",
            world.users[roles.VIEWER.slug].username,
            "--name",
            "cli",
            "--scope",
            "read",
            stdout=out,
            stderr=io.StringIO(),
        )
    secret = out.getvalue().strip()
    assert SECRET.fullmatch(secret)

    assert _stored_anywhere(secret) == []
    assert secret not in caplog.text


# --- Tokens open the API only -------------------------------------------------------------------


def test_token_does_not_open_console_pages(world):
    secret = _issue(world.users[roles.INTEGRATION_ENGINEER.slug], "read", "replay")
    client = new_client(headers=_bearer(secret))

    page = client.get(reverse("console:transaction_list"))
    with NothingWritten():
        action = client.post(reverse("console:transaction_replay", args=[world.tx.pk]))
    admin = client.get(reverse("admin:index"))

    assert page.status_code == 302
    assert page["Location"].startswith(reverse("accounts:login"))
    assert action.status_code == 302
    assert action["Location"].startswith(reverse("accounts:login"))
    assert admin.status_code == 302
    assert admin["Location"].startswith(reverse("admin:login"))


# --- Sign-in throttling -----------------------------------------------------------------------


def _fail(client, url: str, username: str, times: int) -> None:
    for _ in range(times):
        client.post(url, {"username": username, "password": "wrong-password"})


def test_login_admin_sign_in_form_is_throttled_like_the_console(world):
    username = "sec-staff"
    persona_create(username, roles.INTEGRATION_ENGINEER)
    client = new_client()
    _fail(client, reverse("admin:login"), username, settings.LOGIN_THROTTLE_ATTEMPTS)

    response = client.post(
        reverse("admin:login") + "?next=/admin/",
        {"username": username, "password": f"pw-{username}"},
    )

    assert SESSION_KEY not in client.session
    assert response.status_code == 429
