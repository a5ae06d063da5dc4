"""The OpenAPI document is valid and true: drf-spectacular validates it with warnings as
errors, and schemathesis calls every operation with generated input (valid and invalid) and
finds no server error and no answer the document does not describe. The docs page is served
without any CDN."""

import subprocess
import sys
from pathlib import Path

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import API, bearer

ROOT = Path(__file__).resolve().parents[2]


def test_schema_validates_with_warnings_as_errors(tmp_path, process_env):
    out = tmp_path / "schema.yaml"
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--file",
            str(out),
        ],
        cwd=ROOT,
        env=process_env,  # the test database: the application's need not exist (CI)
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "bearerAuth" in text
    assert "/api/v1/transactions/{id}/replay/" in text


@pytest.mark.django_db
def test_schema_needs_authentication_and_declares_bearer_and_errors(client, token_client, viewer):
    assert client.get(f"{API}/schema/").status_code == 401

    response = token_client(viewer, "read").get(f"{API}/schema/", {"format": "json"})

    schema = response.json()
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"401", "403", "429"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            if method == "post":
                assert "409" in codes, (method, path)


@pytest.mark.django_db
def test_docs_page_needs_a_session_and_loads_only_local_assets(client, viewer):
    anonymous = client.get(f"{API}/docs/")
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")

    client.force_login(viewer)
    page = client.get(f"{API}/docs/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "http://" not in html.replace("http://testserver", "")
    assert "https://" not in html
    script = client.get(f"{API}/docs/", {"script": ""})
    assert script.status_code == 200
    assert b"/api/v1/schema/" in script.content


# --- schemathesis ---------------------------------------------------------------------------------
# schemathesis 4.32's pytest integration (from_fixture + parametrize) breaks on pytest 9 (it
# reads Function._nodeid), so each operation's strategy is driven by Hypothesis directly.

EXAMPLES = 20
# Beyond "no 5xx": every answer has a documented status, content type and body shape.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def live(transactional_db, settings, make_token, engineer, make_failed, documents):
    """The live schema, read with an engineer's read+replay token, over some real data."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_read": "100000/min", "api_replay": "100000/min"},
    }
    tx = make_failed()
    headers = bearer(make_token(engineer, "read", "replay"))
    schema = schemathesis.openapi.from_wsgi(
        f"{API}/schema/?format=json", get_wsgi_application(), headers=headers
    )
    real = {
        "id": tx.pk,
        "correlation_id": tx.correlation_id,
        "number": "PO-1",
    }
    return schema, headers, real


def _run(operation, strategy, headers, failures, calls):
    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        calls.append(case.call_and_validate(headers=headers, checks=CHECKS).status_code)

    try:
        run()
    except Exception as error:
        failures.append(f"{operation.method.upper()} {operation.path}: {error}")


def test_no_operation_answers_a_server_error(live):
    schema, headers, real = live
    failures: list[str] = []
    calls: list[int] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _run(operation, operation.as_strategy(mode), headers, failures, calls)
        names = {p.name for p in operation.path_parameters}
        if names:  # once more on real objects, so the answers are not all 404
            fixed = {name: real[name] for name in names}
            _run(operation, operation.as_strategy(path_parameters=fixed), headers, failures, calls)

    assert len(operations) == 12
    assert not failures, "\n\n".join(failures)
    # The control: generated requests really ran, and reached success paths as well as errors.
    assert len(calls) > 12 * EXAMPLES
    assert {200, 202, 400, 404} <= set(calls), sorted(set(calls))
