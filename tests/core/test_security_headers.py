"""Security headers and CSP on console pages (DESIGN §9)."""

import re

import pytest
from django.urls import reverse


def _csp(response) -> dict[str, set[str]]:
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        directives[name] = set(values)
    return directives


@pytest.fixture(params=["login", "home"])
def console_page(request, client, viewer):
    if request.param == "home":
        client.force_login(viewer)
        response = client.get(reverse("console:home"))
    else:
        response = client.get(reverse("accounts:login"))
    assert response.status_code == 200
    return response


def test_security_headers_on_console_pages(console_page):
    assert console_page["X-Frame-Options"] == "DENY"
    assert console_page["X-Content-Type-Options"] == "nosniff"
    assert console_page["Referrer-Policy"] == "same-origin"
    assert console_page["Cross-Origin-Opener-Policy"] == "same-origin"


def test_security_csp_allows_only_this_site(console_page):
    csp = _csp(console_page)

    assert csp["default-src"] == {"'self'"}
    assert csp["script-src"] == {"'self'"}
    assert csp["style-src"] == {"'self'"}
    assert csp["frame-ancestors"] == {"'none'"}
    assert csp["object-src"] == {"'none'"}
    assert csp["form-action"] == {"'self'"}
    assert csp["base-uri"] == {"'self'"}
    assert "unsafe-inline" not in console_page["Content-Security-Policy"]
    assert "unsafe-eval" not in console_page["Content-Security-Policy"]


def test_security_console_pages_hold_nothing_the_csp_would_block(console_page):
    html = console_page.content.decode()

    scripts = re.findall(r"<script\b([^>]*)>", html)
    assert scripts, "htmx is loaded"
    for attributes in scripts:
        src = re.search(r'src="([^"]+)"', attributes)
        assert src, f"inline script: {attributes}"
        assert src.group(1).startswith("/static/"), "served locally, no CDN"
    assert "<style" not in html
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    assert not re.search(r'\sstyle="', html), "inline style attribute"


def test_security_session_cookie_is_httponly_and_same_site(client, ap_analyst):
    response = client.post(reverse("accounts:login"), {"username": "alice", "password": "pw-alice"})

    session = response.cookies["sessionid"]
    assert session["httponly"]
    assert session["samesite"] == "Lax"
