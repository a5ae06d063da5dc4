"""CSRF on every mutation of the permission matrix: without the token a browser session is
refused (403, nothing written); with it the request passes the check. Machine endpoints and
bearer-token API calls are exempt by design, and that is asserted too.

The mutations are read from ``MATRIX`` (test_permission_matrix.py), so a view added there with
POST, PUT, PATCH or DELETE is checked here with no further edit.
"""

import base64

import pytest

from apps.accounts.services import api_token_create
from tests.security.conftest import ANONYMOUS, PERSONAS, NothingWritten, csrf_token, new_client
from tests.security.test_permission_matrix import (
    API,
    MATRIX,
    UNSAFE_METHODS,
    WORKERS,
    Entry,
    api_error,
    send,
)

pytestmark = pytest.mark.django_db

MUTATIONS = sorted(
    (name, method)
    for name, entry in MATRIX.items()
    for method in entry.methods
    if method in UNSAFE_METHODS and not entry.csrf_exempt
)
EXEMPT = sorted(name for name, entry in MATRIX.items() if entry.csrf_exempt)
API_MUTATIONS = sorted(name for name, method in MUTATIONS if MATRIX[name].kind == API)


def least_privileged(entry: Entry) -> str:
    """The first persona (anonymous, outsider, then roles.py's order) the entry allows."""
    return next(persona for persona in PERSONAS if entry.allows(persona))


def _refused_for_csrf(entry: Entry, response) -> None:
    assert response.status_code == 403, response.status_code
    if entry.kind == API:
        assert "CSRF" in api_error(response, 403)["message"]
    else:
        assert b"CSRF verification failed" in response.content


def test_csrf_every_mutation_is_checked_or_exempt_with_a_reason():
    mutating = {n for n, e in MATRIX.items() if set(e.methods) & set(UNSAFE_METHODS)}
    assert mutating == {name for name, _ in MUTATIONS} | set(EXEMPT)
    assert all(len(MATRIX[name].csrf_exempt) > 20 for name in EXEMPT)


@pytest.mark.parametrize(("name", "method"), MUTATIONS)
def test_csrf_mutation_without_the_token_is_refused_and_changes_nothing(
    world, as_persona, name, method
):
    entry = MATRIX[name]
    client = as_persona(least_privileged(entry), enforce_csrf_checks=True)

    with NothingWritten():
        response = send(client, method, entry.url(name, world), entry, world)

    _refused_for_csrf(entry, response)


@pytest.mark.parametrize(("name", "method"), MUTATIONS)
def test_csrf_mutation_with_the_token_passes_the_check(world, as_persona, name, method):
    entry = MATRIX[name]
    client = as_persona(least_privileged(entry), enforce_csrf_checks=True)
    token = csrf_token(client)
    url = entry.url(name, world)

    if entry.kind != API and method == "POST":
        # As the console's forms send it: a hidden field.
        data = {**entry.data(world), "csrfmiddlewaretoken": token}
        response = client.post(url, data)
    else:
        # As htmx (hx-headers on <body>) and API clients send it: a header.
        response = send(client, method, url, entry, world, headers={"X-CSRFToken": token})

    assert response.status_code != 403, response.content[:300]
    assert response.status_code < 500


def test_csrf_console_mutation_accepts_the_htmx_header(world, as_persona):
    entry = MATRIX["console:exception_action"]
    client = as_persona(least_privileged(entry), enforce_csrf_checks=True)

    response = client.post(
        entry.url("console:exception_action", world),
        entry.data(world),
        headers={"X-CSRFToken": csrf_token(client), "HX-Request": "true"},
    )

    assert response.status_code == 302


def test_csrf_a_token_from_another_browser_is_refused(world, as_persona):
    entry = MATRIX["console:transaction_replay"]
    victim = as_persona(least_privileged(entry), enforce_csrf_checks=True)
    attacker = new_client(enforce_csrf_checks=True)
    attacker.get("/accounts/login/")

    with NothingWritten():
        response = victim.post(
            entry.url("console:transaction_replay", world),
            {"csrfmiddlewaretoken": csrf_token(attacker)},
        )

    _refused_for_csrf(entry, response)


@pytest.mark.parametrize("name", EXEMPT)
def test_csrf_exempt_endpoints_answer_for_themselves_without_a_token(world, name):
    """Machine endpoints get no CSRF page: their own refusal (signature, 404) answers."""
    entry = MATRIX[name]
    client = new_client(enforce_csrf_checks=True)

    with NothingWritten():
        response = send(client, "POST", entry.url(name, world), entry, world)

    assert response.status_code in (401, 404), response.status_code
    assert b"CSRF" not in response.content


def _bearer(user, *scopes: str) -> dict:
    _, secret = api_token_create(
        owner=user, name="csrf test", scopes=list(scopes), days=1, actor=None
    )
    return {"Authorization": f"Bearer {secret}"}


@pytest.mark.parametrize("name", API_MUTATIONS)
def test_csrf_token_authenticated_api_calls_need_no_csrf_token(world, name):
    """A bearer token is not sent by browsers on their own, so it cannot be ridden (by design)."""
    entry = MATRIX[name]
    owner = world.users[least_privileged(entry)]
    client = new_client(enforce_csrf_checks=True, headers=_bearer(owner, "read", "replay"))

    response = send(client, "POST", entry.url(name, world), entry, world)

    assert response.status_code == 202, response.content[:300]


@pytest.mark.parametrize("name", API_MUTATIONS)
def test_csrf_a_cross_site_form_post_to_the_api_is_refused(world, as_persona, name):
    """What a hostile page can send (a form: urlencoded or multipart, with the victim's
    cookies) is refused before anything runs: the API reads JSON only (415), and the session
    CSRF check stands behind it."""
    entry = MATRIX[name]
    client = as_persona(least_privileged(entry), enforce_csrf_checks=True)

    with NothingWritten():
        response = client.post(entry.url(name, world), {"anything": "1"})

    assert response.status_code in (403, 415), response.status_code


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic " + base64.b64encode(b"sec-ap_analyst:pw-sec-ap_analyst").decode(),
        "Token whatever",
    ],
)
@pytest.mark.parametrize("name", API_MUTATIONS)
def test_csrf_an_authorization_header_that_is_not_a_token_keeps_the_session_check(
    world, as_persona, name, authorization
):
    entry = MATRIX[name]
    assert set(entry.allowed) <= WORKERS | {ANONYMOUS}
    client = as_persona(least_privileged(entry), enforce_csrf_checks=True)

    with NothingWritten():
        response = send(
            client,
            "POST",
            entry.url(name, world),
            entry,
            world,
            headers={"Authorization": authorization},
        )

    _refused_for_csrf(entry, response)
