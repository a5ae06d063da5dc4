"""Every request carries an id, echoed in the response and stamped on its log lines."""

import json
import logging
import re

import pytest

from apps.core.context import current_request_id, request_id_var
from apps.core.http import error_response
from apps.core.logging import RequestIdFilter

HEADER = "X-Request-ID"


def test_request_id_is_generated_when_absent(client, db):
    first = client.get("/healthz")[HEADER]
    second = client.get("/healthz")[HEADER]

    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert re.fullmatch(r"[0-9a-f]{32}", second)
    assert first != second


@pytest.mark.parametrize("supplied", ["abcd1234", "lb-7f3a.request:42_x", "Z" * 64])
def test_request_id_safe_one_is_echoed(client, db, supplied):
    response = client.get("/healthz", headers={HEADER: supplied})

    assert response[HEADER] == supplied


@pytest.mark.parametrize(
    "supplied",
    [
        "has spaces in it",
        "abcd1234\nforged-log-line",
        "abcd1234\r\nSet-Cookie: x=1",
        "short",
        "Z" * 65,
        "abcd1234<script>",
        "abcd1234;drop",
        "",
    ],
)
def test_request_id_unsafe_one_is_replaced(client, db, supplied):
    response = client.get("/healthz", headers={HEADER: supplied})

    assert response.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", response[HEADER])


def test_request_id_with_a_trailing_newline_is_replaced(client, db):
    response = client.get("/healthz", headers={HEADER: "abcd1234\n"})

    assert response.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", response[HEADER])


def test_request_id_is_stamped_on_log_records_of_the_request(client, db, caplog):
    caplog.handler.addFilter(RequestIdFilter())

    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.post("/healthz", headers={HEADER: "trace-0001abcd"})

    assert response.status_code == 405
    records = [r for r in caplog.records if r.name == "django.request"]
    assert records, "Django logs a refused method as a warning"
    assert {r.request_id for r in records} == {"trace-0001abcd"}


def test_request_id_is_cleared_after_the_request(client, db):
    client.get("/healthz", headers={HEADER: "trace-0001abcd"})

    assert current_request_id() == "-"


def test_request_id_filter_outside_a_request_uses_a_dash_and_keeps_an_explicit_id():
    filter_ = RequestIdFilter()
    plain = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    explicit = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    explicit.request_id = "task-123"

    assert filter_.filter(plain)
    assert filter_.filter(explicit)
    assert plain.request_id == "-"
    assert explicit.request_id == "task-123"


def test_request_id_is_in_json_error_bodies(client, db):
    response = client.post(
        "/in/webhooks/no-such-connector",
        data=b"{}",
        content_type="application/json",
        headers={HEADER: "trace-0002abcd"},
    )

    assert response.status_code >= 400
    assert response[HEADER] == "trace-0002abcd"
    assert response.json()["error"]["request_id"] == "trace-0002abcd"


def test_error_response_has_one_format_and_named_headers():
    token = request_id_var.set("trace-0003abcd")
    try:
        response = error_response(429, "throttled", "Slow down.", Retry_After="7")
    finally:
        request_id_var.reset(token)

    assert response.status_code == 429
    assert response["Retry-After"] == "7"
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {
        "error": {"code": "throttled", "message": "Slow down.", "request_id": "trace-0003abcd"}
    }
