"""Health probes by IP address, and client addresses behind trusted proxies."""

import pytest
from django.test import Client, override_settings

from apps.accounts.services import login_is_throttled


def test_probes_addressed_by_ip_are_answered(db):
    client = Client(HTTP_HOST="10.1.2.3")
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/accounts/login/").status_code == 400  # every other URL stays strict


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "seen_as"),
    [
        (["10.0.0.5"], "10.0.0.5", "203.0.113.9", "203.0.113.9"),
        (["10.0.0.5"], "10.0.0.5", "198.51.100.1, 203.0.113.9", "203.0.113.9"),
        (["10.0.0.5", "10.0.0.6"], "10.0.0.5", "203.0.113.9, 10.0.0.6", "203.0.113.9"),
        ([], "10.0.0.5", "203.0.113.9", "10.0.0.5"),  # no trusted proxies: header ignored
        (["10.0.0.5"], "192.0.2.77", "203.0.113.9", "192.0.2.77"),  # forged by a client
    ],
)
def test_login_throttle_counts_the_real_client_address(db, trusted, peer, forwarded, seen_as):
    with override_settings(TRUSTED_PROXIES=frozenset(trusted), LOGIN_THROTTLE_ATTEMPTS=1):
        client = Client(REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded)
        client.post("/accounts/login/", {"username": "nobody", "password": "wrong"})
        assert login_is_throttled(username="nobody", remote_addr=seen_as)
        others = {"203.0.113.9", "10.0.0.5", "192.0.2.77"} - {seen_as}
        assert not any(login_is_throttled(username="nobody", remote_addr=a) for a in others)
