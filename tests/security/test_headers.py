"""Security headers and CSP on every HTML page of the permission matrix, on error pages and
on API answers; and, in production mode, the transport-security headers on real responses.

tests/core/test_security_headers.py checks the policy in detail on two pages and
tests/core/test_settings.py runs ``check --deploy``; this module applies the same rules to
every page the matrix lists, so a new screen cannot ship without them.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.test_security_headers import _csp
from tests.core.test_settings import _env, _production
from tests.security.conftest import new_client
from tests.security.test_csrf import least_privileged
from tests.security.test_permission_matrix import API, MATRIX

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(name for name, entry in MATRIX.items() if entry.html and "GET" in entry.methods)
API_READS = sorted(
    name for name, entry in MATRIX.items() if entry.kind == API and "GET" in entry.methods
)
# Inline content that the CSP blocks on purpose, by page, with why it may stay.
TOLERATED_INLINE = {
    "api:docs": (
        "<style> block",
        "drf-spectacular's Swagger UI template sets page margins in a <style> block; the CSP "
        "blocks it and the page still works (its script comes from the split view's URL)",
    ),
}


def assert_security_headers(response) -> None:
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def assert_strict_csp(response) -> None:
    header = response["Content-Security-Policy"]
    assert "unsafe-inline" not in header
    assert "unsafe-eval" not in header
    csp = _csp(response)
    assert csp["default-src"] == {"'self'"}
    assert csp["script-src"] == {"'self'"}
    assert csp["style-src"] == {"'self'"}
    assert csp["frame-ancestors"] == {"'none'"}
    assert csp["object-src"] == {"'none'"}


def inline_content(html: str) -> list[str]:
    """What the CSP above would block on this page: inline scripts, styles and handlers."""
    found = []
    for attributes in re.findall(r"<script\b([^>]*)>", html):
        src = re.search(r'src="([^"]+)"', attributes)
        if not src:
            found.append(f"inline <script{attributes}>")
        elif not src.group(1).startswith("/") or src.group(1).startswith("//"):
            found.append(f"script from {src.group(1)} (not this site)")
    found += [f"<style> block at {m.start()}" for m in re.finditer(r"<style\b", html)]
    found += [f"handler {m.group(0).strip()}" for m in re.finditer(r"\son[a-z]+=", html)]
    found += [f"style attribute {m.group(0)!r}" for m in re.finditer(r'\sstyle="[^"]*"', html)]
    return found


@pytest.mark.parametrize("name", PAGES)
def test_headers_and_csp_on_every_page(world, as_persona, name):
    entry = MATRIX[name]
    client = as_persona(least_privileged(entry))

    response = client.get(entry.url(name, world), headers=entry.headers)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert_security_headers(response)
    assert_strict_csp(response)
    blocked = inline_content(response.content.decode())
    if name in TOLERATED_INLINE:
        blocked = [item for item in blocked if not item.startswith(TOLERATED_INLINE[name][0])]
    assert blocked == []


@pytest.mark.parametrize("name", PAGES)
def test_headers_page_fragments_carry_them_too(world, as_persona, name):
    entry = MATRIX[name]
    client = as_persona(least_privileged(entry))

    response = client.get(entry.url(name, world), headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert_security_headers(response)
    assert_strict_csp(response)


@pytest.mark.parametrize("name", API_READS)
def test_headers_on_api_answers(world, as_persona, name):
    entry = MATRIX[name]
    client = as_persona(least_privileged(entry))

    response = client.get(entry.url(name, world), headers=entry.headers)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert_security_headers(response)


def test_headers_on_error_pages(world, as_persona):
    refused = as_persona("outsider").get(MATRIX["console:home"].url("console:home", world))
    missing = as_persona("viewer").get("/transactions/999999999/")
    csrf = new_client(enforce_csrf_checks=True).post("/accounts/login/", {"username": "x"})
    api_401 = new_client().get("/api/v1/transactions/")

    assert [r.status_code for r in (refused, missing, csrf, api_401)] == [403, 404, 403, 401]
    for response in (refused, missing, csrf, api_401):
        assert_security_headers(response)
        assert_strict_csp(response)


# --- Production mode: what check --deploy cannot see ----------------------------------------
# test_settings.py runs the deploy check (settings). Here a production process answers real
# requests: plain HTTP is redirected, HTTPS answers carry HSTS, probes stay reachable over HTTP
# for load balancers. JSON endpoints only, so no collected static files are needed.

PROBE = """
import json
import django

django.setup()
from django.test import Client

client = Client()
http = client.get("/api/v1/transactions/")
https = client.get("/api/v1/transactions/", secure=True)
probe = client.get("/healthz")
print(json.dumps({
    "http": [http.status_code, http.get("Location", "")],
    "https": [https.status_code, https.get("Strict-Transport-Security", ""),
              https.get("X-Frame-Options", ""), https.get("Content-Security-Policy", "")],
    "probe": [probe.status_code],
}))
"""


@pytest.fixture(scope="module", autouse=True)
def production_process():
    """Started with the module's first test: a production interpreter takes seconds to
    import Django and the apps, time the page tests above use meanwhile."""
    env = _env(_production(DJANGO_ALLOWED_HOSTS="testserver"))
    env.pop("HUBCONSOLE_SSL_REDIRECT", None)
    env.pop("HUBCONSOLE_HSTS_SECONDS", None)
    process = subprocess.Popen(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT), "HUBCONSOLE_LOG_LEVEL": "ERROR"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield process
    if process.poll() is None:
        process.kill()
    process.communicate()


def test_headers_production_redirects_to_https_and_sends_hsts(production_process):
    stdout, stderr = production_process.communicate(timeout=120)
    assert production_process.returncode == 0, stderr
    seen = json.loads(stdout.strip().splitlines()[-1])

    assert seen["http"] == [301, "https://testserver/api/v1/transactions/"]
    status, hsts, frame, csp = seen["https"]
    assert status == 401  # reached the API: no redirect loop over HTTPS
    assert hsts == "max-age=31536000; includeSubDomains; preload"
    assert frame == "DENY"
    assert "frame-ancestors 'none'" in csp
    assert seen["probe"] == [200]
