"""Builders and helpers shared by the connector tests: signed webhook calls, pickup folders."""

import os
import time
from pathlib import Path

import httpx
import pytest

from apps.connectors.choices import ConnectorKindChoices
from apps.connectors.models import Connector
from apps.connectors.signing import SIGNATURE_HEADER, sign
from apps.pipeline.models import Transaction, TransactionEvent, WorkItem
from tests.conftest import WEBHOOK_SECRET

AGE_SECONDS = 60


def post_webhook(
    base_url: str,
    slug: str,
    body: bytes,
    *,
    secret: str | None = WEBHOOK_SECRET,
    timestamp: int | None = None,
    headers: dict | None = None,
    content_type: str = "application/json",
) -> httpx.Response:
    """POST ``body`` to the webhook endpoint over real HTTP, signed with ``secret`` if given."""
    sent = {"Content-Type": content_type}
    if secret is not None:
        sent[SIGNATURE_HEADER] = sign(secret, body, timestamp)
    sent.update(headers or {})
    return httpx.post(f"{base_url}/in/webhooks/{slug}", content=body, headers=sent, timeout=10)


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    """The one JSON error format, tied to the request id the response carries."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert error["request_id"] == response.headers["X-Request-ID"]


def assert_nothing_stored() -> None:
    assert Transaction.objects.count() == 0
    assert TransactionEvent.objects.count() == 0
    assert WorkItem.objects.count() == 0


def make_file_connector(
    path: Path | str, slug: str = "supplier-drop", *, settings: dict | None = None, **fields
) -> Connector:
    return Connector.objects.create(
        slug=slug,
        name=f"Drop {slug}",
        kind=ConnectorKindChoices.FILE_IN,
        settings={"path": str(path), "min_age_seconds": 5, **(settings or {})},
        **fields,
    )


def drop_file(folder: Path, name: str, data: bytes, *, age: float = AGE_SECONDS) -> Path:
    """Write a file and make it look untouched for ``age`` seconds (0 keeps it fresh)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    if age:
        then = time.time() - age
        os.utime(path, (then, then))
    return path


@pytest.fixture
def inbox(tmp_path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder
