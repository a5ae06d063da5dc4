"""Signing in and out: redirects, errors, throttling per user name and address, CSRF."""

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

LOGIN = reverse("accounts:login")
LOGOUT = reverse("accounts:logout")
HOME = reverse("console:home")


def _login(client, username, password, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def _signed_in(client) -> bool:
    return SESSION_KEY in client.session


def _fail(client, username, times, **extra):
    for _ in range(times):
        response = _login(client, username, "wrong-password", **extra)
        assert response.status_code == 200


def test_login_page_renders(client, db):
    response = client.get(LOGIN)

    assert response.status_code == 200
    assert "accounts/login.html" in [t.name for t in response.templates]
    assert b'name="username"' in response.content
    assert b'name="password"' in response.content
    assert b"csrfmiddlewaretoken" in response.content


def test_login_with_good_credentials_redirects_to_the_console(client, ap_analyst):
    response = _login(client, "alice", "pw-alice")

    assert response.status_code == 302
    assert response["Location"] == HOME
    assert client.session[SESSION_KEY] == str(ap_analyst.pk)


def test_login_follows_a_local_next_but_not_a_foreign_one(client, ap_analyst):
    response = client.post(f"{LOGIN}?next=/admin/", {"username": "alice", "password": "pw-alice"})
    assert response["Location"] == "/admin/"

    client.logout()
    response = client.post(
        f"{LOGIN}?next=https://evil.example/steal",
        {"username": "alice", "password": "pw-alice"},
    )
    assert response["Location"] == HOME


def test_login_with_bad_credentials_shows_an_error(client, ap_analyst):
    response = _login(client, "alice", "not-her-password")

    assert response.status_code == 200
    assert b"do not match" in response.content
    assert b'value="alice"' in response.content
    assert not _signed_in(client)


def test_login_unknown_user_shows_the_same_error(client, db):
    response = _login(client, "nobody", "whatever")

    assert response.status_code == 200
    assert b"do not match" in response.content


def test_login_authenticated_user_is_sent_to_the_console(client, ap_analyst):
    client.force_login(ap_analyst)

    response = client.get(LOGIN)

    assert response.status_code == 302
    assert response["Location"] == HOME


# --- Throttling ---------------------------------------------------------------------------------


def test_login_throttle_blocks_even_the_right_password(client, ap_analyst):
    attempts = settings.LOGIN_THROTTLE_ATTEMPTS
    assert attempts == 5
    _fail(client, "alice", attempts)

    response = _login(client, "alice", "pw-alice")

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "accounts/login_throttled.html" in [t.name for t in response.templates]
    assert not _signed_in(client)


def test_login_throttle_allows_attempts_below_the_limit(client, ap_analyst):
    _fail(client, "alice", settings.LOGIN_THROTTLE_ATTEMPTS - 1)

    response = _login(client, "alice", "pw-alice")

    assert response.status_code == 302
    assert _signed_in(client)


def test_login_throttle_follows_the_setting(client, ap_analyst, settings):
    settings.LOGIN_THROTTLE_ATTEMPTS = 2
    _fail(client, "alice", 2)

    assert _login(client, "alice", "pw-alice").status_code == 429


def test_login_throttle_does_not_block_another_user_from_the_same_address(
    client, ap_analyst, steward
):
    _fail(client, "alice", settings.LOGIN_THROTTLE_ATTEMPTS)

    response = _login(client, "erin", "pw-erin")

    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(steward.pk)


def test_login_throttle_does_not_block_the_user_from_another_address(client, ap_analyst):
    _fail(client, "alice", settings.LOGIN_THROTTLE_ATTEMPTS, REMOTE_ADDR="203.0.113.9")

    response = _login(client, "alice", "pw-alice", REMOTE_ADDR="198.51.100.4")

    assert response.status_code == 302
    assert _signed_in(client)


def test_login_throttle_counts_per_address(client, ap_analyst):
    _fail(client, "alice", settings.LOGIN_THROTTLE_ATTEMPTS, REMOTE_ADDR="203.0.113.9")

    assert _login(client, "alice", "pw-alice", REMOTE_ADDR="203.0.113.9").status_code == 429


def test_login_throttle_ignores_the_case_of_the_user_name(client, ap_analyst):
    _fail(client, "ALICE", settings.LOGIN_THROTTLE_ATTEMPTS)

    assert _login(client, "alice", "pw-alice").status_code == 429


def test_login_success_resets_the_failure_count(client, ap_analyst):
    _fail(client, "alice", settings.LOGIN_THROTTLE_ATTEMPTS - 1)
    assert _login(client, "alice", "pw-alice").status_code == 302
    client.logout()

    _fail(client, "alice", settings.LOGIN_THROTTLE_ATTEMPTS - 1)
    response = _login(client, "alice", "pw-alice")

    assert response.status_code == 302
    assert _signed_in(client)


def test_login_throttle_retry_after_follows_the_window(client, ap_analyst, settings):
    settings.LOGIN_THROTTLE_WINDOW_SECONDS = 60
    _fail(client, "alice", settings.LOGIN_THROTTLE_ATTEMPTS)

    response = _login(client, "alice", "pw-alice")

    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60


# --- CSRF, logout and the console home ------------------------------------------------------------


def test_login_post_without_csrf_token_is_refused(ap_analyst):
    client = Client(enforce_csrf_checks=True)

    response = _login(client, "alice", "pw-alice")

    assert response.status_code == 403
    assert not _signed_in(client)


def test_login_post_with_csrf_token_signs_in(ap_analyst):
    client = Client(enforce_csrf_checks=True)
    client.get(LOGIN)
    token = client.cookies[settings.CSRF_COOKIE_NAME].value

    response = client.post(
        LOGIN, {"username": "alice", "password": "pw-alice", "csrfmiddlewaretoken": token}
    )

    assert response.status_code == 302
    assert _signed_in(client)


def test_logout_is_post_only(client, ap_analyst):
    client.force_login(ap_analyst)

    response = client.get(LOGOUT)

    assert response.status_code == 405
    assert _signed_in(client)


def test_logout_without_csrf_token_is_refused(ap_analyst):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ap_analyst)

    response = client.post(LOGOUT)

    assert response.status_code == 403
    assert _signed_in(client)


def test_logout_with_csrf_token_signs_out(ap_analyst):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ap_analyst)
    page = client.get(HOME)
    assert page.status_code == 200
    assert LOGOUT.encode() in page.content
    token = client.cookies[settings.CSRF_COOKIE_NAME].value

    response = client.post(LOGOUT, {"csrfmiddlewaretoken": token})

    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert not _signed_in(client)
    assert client.get(HOME).status_code == 302


def test_console_home_sends_anonymous_users_to_login(client, db):
    response = client.get(HOME)

    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={HOME}"


def test_console_home_renders_for_a_signed_in_user(client, viewer):
    client.force_login(viewer)

    response = client.get(HOME)

    assert response.status_code == 200
    assert b"grace" in response.content
