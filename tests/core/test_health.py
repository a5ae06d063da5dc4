"""Liveness and readiness endpoints."""

import pytest

from apps.core import health
from apps.core.redis import redis_client


def test_healthz_answers_without_touching_the_database(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_is_get_only(client, db):
    assert client.post("/healthz").status_code == 405


def test_readyz_reports_every_check_ok(client, db, monkeypatch):
    # Forget a good answer remembered by an earlier request, so the migration check really runs.
    monkeypatch.setattr(health, "_migrations_applied", False)

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "broker": "ok", "migrations": "ok"},
    }
    assert "no-cache" in response["Cache-Control"]
    assert health._migrations_applied is True


@pytest.fixture
def broker_down(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    redis_client.cache_clear()
    yield
    redis_client.cache_clear()


def test_readyz_is_503_when_the_broker_is_down(client, db, broker_down):
    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["migrations"] == "ok"
    assert body["checks"]["broker"] not in ("ok", "")
    assert "redis" not in response.content.decode().lower()  # no connection details leak


def test_healthz_stays_up_when_the_broker_is_down(client, db, broker_down):
    assert client.get("/healthz").status_code == 200
