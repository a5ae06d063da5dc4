"""Who may call what: every endpoint against anonymous callers, each role, an outsider, token
scopes, and expired, revoked and wrong tokens."""

import pytest
from django.test import Client
from django.utils import timezone

from apps.accounts.models import ApiToken
from apps.accounts.services import api_token_revoke
from tests.api.conftest import API, bearer

pytestmark = pytest.mark.django_db

READS = [
    "/transactions/",
    "/transactions/{tx}/",
    "/lineage/{correlation}/",
    "/exceptions/",
    "/exceptions/{exception}/",
    "/documents/?key=PO-1",
    "/documents/purchase_order/PO-1/",
    "/documents/invoice/INV-1/?supplier=SUP-1",
    "/documents/receipt/GR-1/",
    "/documents/ship_notice/ASN-1/",
]
REPLAYS = ["/transactions/{tx}/replay/", "/exceptions/{exception}/replay/"]


@pytest.fixture
def urls(make_failed, failed_exception, documents):
    """Each endpoint once; each replay endpoint on its own failed transaction."""
    tx = make_failed()
    ids = {
        "tx": tx.pk,
        "correlation": tx.correlation_id,
        "exception": failed_exception.pk,
    }
    return {
        "read": [API + path.format(**ids) for path in READS],
        "replay": [API + path.format(**ids) for path in REPLAYS],
    }


def statuses(client: Client, urls: dict) -> dict:
    return {
        "read": {client.get(url).status_code for url in urls["read"]},
        "replay": {client.post(url).status_code for url in urls["replay"]},
    }


def test_anonymous_callers_get_401_from_every_endpoint(client, urls):
    for url in urls["read"]:
        response = client.get(url)
        assert response.status_code == 401, url
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'
        assert response.json()["error"]["code"] == "NOT_AUTHENTICATED"
    for url in urls["replay"]:
        assert client.post(url).status_code == 401, url


def test_a_signed_in_user_without_a_role_gets_403_everywhere(client, outsider, urls):
    client.force_login(outsider)

    assert statuses(client, urls) == {"read": {403}, "replay": {403}}


def test_a_token_of_a_user_without_a_role_gets_403_everywhere(token_client, outsider, urls):
    assert statuses(token_client(outsider, "read", "replay"), urls) == {
        "read": {403},
        "replay": {403},
    }


@pytest.mark.parametrize(
    ("persona", "may_replay"),
    [
        ("viewer", False),
        ("auditor", False),
        ("ap_analyst", True),
        ("steward", True),
        ("engineer", True),
    ],
)
def test_each_role_reads_everything_and_replays_only_with_the_permission(
    client, request, persona, may_replay, urls
):
    client.force_login(request.getfixturevalue(persona))

    assert statuses(client, urls) == {"read": {200}, "replay": {202} if may_replay else {403}}


@pytest.mark.parametrize("persona", ["viewer", "engineer"])
def test_a_read_token_reads_but_never_replays(token_client, request, persona, urls):
    client = token_client(request.getfixturevalue(persona), "read")

    assert statuses(client, urls) == {"read": {200}, "replay": {403}}
    response = client.post(urls["replay"][0])
    assert response.json()["error"]["code"] == "TOKEN_SCOPE_MISSING"


def test_a_replay_token_of_a_user_without_the_replay_permission_cannot_replay(
    token_client, viewer, urls
):
    client = token_client(viewer, "read", "replay")

    response = client.post(urls["replay"][0])

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "PERMISSION_DENIED"


def test_a_replay_token_of_an_engineer_replays(token_client, engineer, urls):
    assert statuses(token_client(engineer, "read", "replay"), urls) == {
        "read": {200},
        "replay": {202},
    }


def test_a_replay_only_token_cannot_read(token_client, engineer, urls):
    client = token_client(engineer, "replay")

    assert statuses(client, urls)["read"] == {403}


def test_an_expired_token_gets_401_with_a_clear_message(make_token, viewer, urls):
    secret = make_token(viewer, "read")
    ApiToken.objects.update(expires_at=timezone.now() - timezone.timedelta(seconds=1))

    response = Client().get(urls["read"][0], headers=bearer(secret))

    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "TOKEN_EXPIRED"
    assert "expired on" in error["message"]


def test_a_revoked_token_gets_401_with_a_clear_message(make_token, viewer, urls):
    secret = make_token(viewer, "read")
    api_token_revoke(token_id=ApiToken.objects.get().pk, actor=None)

    for url in [*urls["read"], *urls["replay"]]:
        method = Client().post if url in urls["replay"] else Client().get
        response = method(url, headers=bearer(secret))
        assert response.status_code == 401, url
        assert response.json()["error"]["code"] == "TOKEN_REVOKED"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer hc_00000000_" + "A" * 43,  # well formed, no such prefix
        "Bearer {wrong_secret}",  # a real prefix with another secret
        "Bearer hc_short",
        "Bearer",
        "Bearer a b",
        "Bearer " + "x" * 500,
    ],
)
def test_a_wrong_token_gets_401(make_token, viewer, urls, header):
    secret = make_token(viewer, "read")
    wrong = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")

    response = Client().get(
        urls["read"][0], headers={"Authorization": header.format(wrong_secret=wrong)}
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "TOKEN_INVALID"


def test_a_token_of_a_disabled_user_gets_401(make_token, engineer, urls):
    secret = make_token(engineer, "read")
    engineer.is_active = False
    engineer.save()

    response = Client().get(urls["read"][0], headers=bearer(secret))

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "TOKEN_INVALID"


def test_session_posts_need_the_csrf_token(engineer, urls):
    client = Client(enforce_csrf_checks=True)
    client.force_login(engineer)

    response = client.post(urls["replay"][0])

    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]
