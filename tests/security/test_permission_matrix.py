"""The permission matrix: every URL of hubconsole.urls against anonymous callers, an outsider
(signed in, no role) and each role of apps/accounts/roles.py.

``MATRIX`` below is the one table of who may use what. It is read by the CSRF tests
(test_csrf.py), the header and CSP tests (test_headers.py) and docs/security.md, whose role
table is generated from it. A URL that the resolver knows and the table does not list fails
``test_matrix_lists_every_url``: add it here (docs/security.md, "Adding a view").
"""

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from apps.accounts import roles
from tests.security.conftest import (
    ANONYMOUS,
    MAPPING_KEY,
    OUTSIDER,
    PERSONAS,
    NothingWritten,
    World,
)

pytestmark = pytest.mark.django_db

# --- Vocabulary of the table ----------------------------------------------------------------

# How a URL authenticates its callers, which decides what a refusal looks like.
CONSOLE = "console"  # session; anonymous -> login page, refused -> 403 page
API = "api"  # bearer token or session; anonymous -> 401, refused -> 403, both in the API's format
INBOUND = "inbound"  # machine-to-machine, HMAC-signed: anything unsigned gets the signature refusal
PUBLIC = "public"  # no sign-in at all (probes, the login page)
ADMIN = "admin"  # the Django admin: staff only (others are sent to its login), then model perms
NOT_FOUND = "not_found"  # answers 404 to everyone (the API's catch-all)

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
PROBED_METHODS = ("GET", *UNSAFE_METHODS)

# Who may use a URL: a set of role slugs, or one of these.
EVERYONE = "everyone"  # anonymous callers included
SIGNED_IN = "signed in"  # any account, even one without a role (outsider included)

R = {role.slug: role for role in roles.ROLES}
VIEWER, AP, SC, RI, ENG, STEWARD, AUDITOR, ADMIN_ROLE = (role.slug for role in roles.ROLES)
ALL_ROLES = frozenset(R)
# accounts.replay and exceptions.change_businessexception: the people who work exceptions.
WORKERS = frozenset({AP, SC, RI, ENG, STEWARD, ADMIN_ROLE})
# accounts.bulk_replay / accounts.administer_connectors; accounts.edit_and_replay together
# with accounts.view_payload.
ENGINEERS = frozenset({ENG, ADMIN_ROLE})
# accounts.fix_mapping; accounts.approve_mapping together with accounts.replay.
STEWARDS = frozenset({STEWARD, ADMIN_ROLE})
STAFF = frozenset(role.slug for role in roles.ROLES if role.staff)


@dataclass(frozen=True)
class Entry:
    """One row of the matrix.

    ``kwargs`` builds the URL's arguments from the world's objects (tests/security/conftest.py);
    ``query`` is appended as it is; ``path`` replaces ``reverse`` for unnamed patterns.
    ``data`` is the body of the unsafe methods (what a real form sends). ``html``: a GET
    renders a page (checked for headers and CSP). ``csrf_exempt`` says why a mutation does not
    need the token; every other unsafe method must.
    """

    kind: str
    methods: tuple[str, ...]
    allowed: frozenset[str] | str
    kwargs: Callable[[World], dict] = lambda world: {}
    query: str = ""
    path: str = ""
    data: Callable[[World], dict] = lambda world: {}
    content_type: str | None = None
    headers: dict = field(default_factory=dict)
    html: bool = False
    csrf_exempt: str = ""
    note: str = ""

    def allows(self, persona: str) -> bool:
        if self.allowed == EVERYONE:
            return True
        if self.allowed == SIGNED_IN:
            return persona != ANONYMOUS
        return persona in self.allowed

    def url(self, name: str, world: World) -> str:
        base = self.path or reverse(name, kwargs=self.kwargs(world))
        return f"{base}?{self.query}" if self.query else base


def _tx(world: World) -> dict:
    return {"pk": world.tx.pk}


def _exception(world: World) -> dict:
    return {"pk": world.exception.pk}


def _job(world: World) -> dict:
    return {"pk": world.job.pk}


GET, POST = ("GET",), ("POST",)

# --- The table --------------------------------------------------------------------------------
# URL name (namespaced) -> methods, arguments, who may use it. Unnamed patterns are keyed by
# their namespace and route in brackets.

MATRIX: dict[str, Entry] = {
    # Probes and sign-in: open to everyone by nature.
    "healthz": Entry(PUBLIC, GET, EVERYONE, note="liveness probe; no data"),
    "readyz": Entry(PUBLIC, GET, EVERYONE, note="readiness probe; names checks, no data"),
    "accounts:login": Entry(
        PUBLIC,
        # LoginView is a FormView: Django's ProcessFormView answers PUT as POST (throttled and
        # CSRF-checked the same way).
        ("GET", "POST", "PUT"),
        EVERYONE,
        data=lambda world: {"username": "nobody", "password": "wrong"},
        html=True,
        note="signed-in people are sent on to the console",
    ),
    "admin_login": Entry(
        PUBLIC,
        ("GET", "POST", "PUT"),
        EVERYONE,
        data=lambda world: {"username": "nobody", "password": "wrong"},
        html=True,
        note="the admin's sign-in is the console's throttled one",
    ),
    "accounts:logout": Entry(CONSOLE, POST, SIGNED_IN),
    # Inbound: authenticated by the sender's HMAC signature, never by a session.
    "connectors:webhook_receive": Entry(
        INBOUND,
        POST,
        frozenset(),
        kwargs=lambda world: {"slug": world.connector.slug},
        data=lambda world: {"id": "SEC-1"},
        content_type="application/json",
        csrf_exempt="machine-to-machine: the HMAC signature authenticates, no cookie to ride on",
    ),
    # The console.
    "console:home": Entry(CONSOLE, GET, ALL_ROLES, html=True),
    "console:search": Entry(
        CONSOLE,
        GET,
        SIGNED_IN,
        query="q=PO-1",
        html=True,
        note="each section only for who may see it; an outsider finds nothing",
    ),
    "console:transaction_list": Entry(CONSOLE, GET, ALL_ROLES, html=True),
    "console:transaction_detail": Entry(CONSOLE, GET, ALL_ROLES, kwargs=_tx, html=True),
    "console:transaction_replay": Entry(CONSOLE, POST, WORKERS, kwargs=_tx),
    "console:transaction_edit": Entry(
        CONSOLE,
        ("GET", "POST"),
        ENGINEERS,
        kwargs=_tx,
        data=lambda world: {"f:no": "SEC-EDITED", "reason": "checked by the security matrix"},
        html=True,
        note="edit-and-replay: patient fields shown masked and never taken from the form",
    ),
    "console:exception_list": Entry(CONSOLE, GET, ALL_ROLES, html=True),
    "console:fix_mapping": Entry(
        CONSOLE,
        ("GET", "POST"),
        STEWARDS,
        query=urlencode({"key": MAPPING_KEY}),
        data=lambda world: {"key": world.mapping_key, "record": world.supplier.pk},
        html=True,
    ),
    "console:fix_mapping_approve": Entry(
        CONSOLE,
        POST,
        STEWARDS,
        kwargs=lambda world: {"pk": world.proposal.pk},
        data=lambda world: {"key": world.mapping_key, "reason": "checked by the matrix"},
        note="never one's own proposal (four eyes): refused with a message, not a 403",
    ),
    "console:exception_group_list": Entry(CONSOLE, GET, ALL_ROLES, html=True),
    "console:exception_detail": Entry(CONSOLE, GET, ALL_ROLES, kwargs=_exception, html=True),
    "console:exception_action": Entry(
        CONSOLE,
        POST,
        WORKERS,
        kwargs=_exception,
        data=lambda world: {"action": "comment", "text": "checked by the security matrix"},
    ),
    "console:connector_list": Entry(CONSOLE, GET, ALL_ROLES, html=True),
    "console:connector_pause": Entry(
        CONSOLE,
        POST,
        ENGINEERS,
        kwargs=lambda world: {"pk": world.connector.pk},
        data=lambda world: {"paused": "true"},
    ),
    "alerts:alert_list": Entry(CONSOLE, GET, ALL_ROLES, html=True),
    "dashboards:dashboard": Entry(CONSOLE, GET, ALL_ROLES, html=True),
    "replays:replayjob_list": Entry(CONSOLE, GET, ALL_ROLES, html=True),
    "replays:replayjob_new": Entry(
        CONSOLE,
        ("GET", "POST"),
        ENGINEERS,
        query="kind=exceptions&status=open",
        data=lambda world: {"action": "dry_run"},
        html=True,
    ),
    "replays:replayjob_detail": Entry(CONSOLE, GET, ALL_ROLES, kwargs=_job, html=True),
    "replays:replayjob_cancel": Entry(CONSOLE, POST, ENGINEERS, kwargs=_job),
    "replays:replayjob_resume": Entry(CONSOLE, POST, ENGINEERS, kwargs=_job),
    # The status API.
    "api:transaction-list": Entry(API, GET, ALL_ROLES),
    "api:transaction-detail": Entry(API, GET, ALL_ROLES, kwargs=_tx),
    "api:transaction-replay": Entry(
        API, POST, WORKERS, kwargs=_tx, content_type="application/json"
    ),
    "api:lineage": Entry(
        API, GET, ALL_ROLES, kwargs=lambda world: {"correlation_id": world.tx.correlation_id}
    ),
    "api:exception-list": Entry(API, GET, ALL_ROLES),
    "api:exception-detail": Entry(API, GET, ALL_ROLES, kwargs=_exception),
    "api:exception-replay": Entry(
        API, POST, WORKERS, kwargs=_exception, content_type="application/json"
    ),
    "api:document-search": Entry(API, GET, ALL_ROLES, query="key=PO-1"),
    "api:document-purchase-order": Entry(
        API, GET, ALL_ROLES, kwargs=lambda world: {"number": world.po.po_number}
    ),
    "api:document-invoice": Entry(
        API, GET, ALL_ROLES, kwargs=lambda world: {"number": world.invoice.invoice_number}
    ),
    "api:document-receipt": Entry(
        API, GET, ALL_ROLES, kwargs=lambda world: {"number": world.receipt.receipt_id}
    ),
    "api:document-ship-notice": Entry(
        API, GET, ALL_ROLES, kwargs=lambda world: {"number": world.notice.shipment_id}
    ),
    "api:schema": Entry(
        API,
        GET,
        SIGNED_IN,
        # Without it the schema view renders its answers, errors included, as OpenAPI YAML.
        headers={"Accept": "application/json"},
        note="the API's description, no data: any signed-in person",
    ),
    "api:docs": Entry(
        CONSOLE, GET, SIGNED_IN, html=True, note="Swagger UI page; it fetches api:schema"
    ),
    "api:[api/v1/^]": Entry(
        NOT_FOUND,
        PROBED_METHODS,
        EVERYONE,
        path="/api/v1/no-such-endpoint/",
        csrf_exempt="changes nothing: every method answers 404 in the API's format",
        note="catch-all: unknown API paths",
    ),
    # The Django admin, as a group: every admin URL is covered by the admin site's own gate
    # (staff, then model permissions); these representative pages check it per role.
    "admin:index": Entry(ADMIN, GET, STAFF, html=True),
    "admin:connectors_connector_changelist": Entry(ADMIN, GET, STAFF, html=True),
    "admin:masterdata_supplier_changelist": Entry(ADMIN, GET, STAFF, html=True),
    "admin:masterdata_supplier_add": Entry(
        ADMIN,
        ("GET", "POST"),
        frozenset({STEWARD, ADMIN_ROLE}),
        data=lambda world: {"code": ""},  # invalid: the form answers 200 with its errors
        html=True,
    ),
    "admin:exceptions_businessexception_change": Entry(
        ADMIN, GET, STAFF, kwargs=lambda world: {"object_id": world.exception.pk}, html=True
    ),
    "admin:accounts_apitoken_changelist": Entry(ADMIN, GET, frozenset({ADMIN_ROLE}), html=True),
    "admin:auth_user_changelist": Entry(ADMIN, GET, frozenset({AUDITOR, ADMIN_ROLE}), html=True),
    "admin:auditlog_logentry_changelist": Entry(
        ADMIN, GET, frozenset({AUDITOR, ADMIN_ROLE}), html=True
    ),
}

# Namespaces covered as a group by the representative entries above.
GROUPS = {"admin": "the Django admin site: staff only, then each model's permissions"}
# Routes that are not HubConsole's views, by pattern, with the reason they are left out.
EXCLUDED = {
    r"^static/": "static files (served by WhiteNoise middleware; a staticfiles_urlpatterns() "
    "route would serve only public assets)",
    r"^admin/doc/": "django.contrib.admindocs, Django's own documentation of models and views "
    "(staff only through the admin's gate)",
}

# --- The resolver ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    key: str  # namespaced name, or "namespace:[route]" when unnamed
    route: str
    namespace: str = field(default="")


def url_routes(patterns=None, prefix: str = "", namespace: str = "") -> list[Route]:
    """Every URL pattern of hubconsole.urls, walked recursively through includes."""
    if patterns is None:
        patterns = get_resolver().url_patterns
    routes = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            routes += url_routes(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            route = prefix + str(pattern.pattern)
            key = f"{namespace}{pattern.name}" if pattern.name else f"{namespace}[{route}]"
            routes.append(Route(key, route, namespace.rstrip(":")))
    return routes


def uncovered(routes: list[Route]) -> list[Route]:
    return [
        route
        for route in routes
        if route.key not in MATRIX
        and route.namespace.split(":")[0] not in GROUPS
        and not any(re.search(pattern, route.route) for pattern in EXCLUDED)
    ]


def test_matrix_lists_every_url():
    missing = uncovered(url_routes())
    assert not missing, (
        "URLs missing from MATRIX in tests/security/test_permission_matrix.py:\n"
        + (
            "\n".join(
                f"  add {route.key!r} (route {route.route!r}) with its methods, kwargs and roles"
                for route in missing
            )
        )
    )


def test_matrix_lists_only_urls_that_exist():
    keys = {route.key for route in url_routes()}
    stale = sorted(set(MATRIX) - keys)
    assert not stale, f"MATRIX lists URLs the resolver does not know; remove them: {stale}"


def test_matrix_admin_group_is_represented():
    routes = [r for r in url_routes() if r.namespace.split(":")[0] == "admin"]
    assert len(routes) > 50  # every registered model adds its pages to the group
    assert {key for key in MATRIX if key.startswith("admin:")} <= {r.key for r in routes}


def test_matrix_exclusions_name_a_reason_and_exclude_no_listed_url():
    routes = {route.key: route.route for route in url_routes()}
    for pattern, reason in EXCLUDED.items():
        assert len(reason) > 20, pattern
        assert not [k for k in MATRIX if k in routes and re.search(pattern, routes[k])], pattern


# --- Requests -------------------------------------------------------------------------------

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"


def send(client, method: str, url: str, entry: Entry, world: World, **extra):
    data = entry.data(world) if method in UNSAFE_METHODS else {}
    extra["headers"] = {**entry.headers, **extra.get("headers", {})}
    if entry.content_type == "application/json" and method in UNSAFE_METHODS:
        return client.generic(method, url, json.dumps(data), "application/json", **extra)
    if method == "GET":
        return client.get(url, **extra)
    if method == "POST":
        return client.post(url, data, **extra)
    # PUT/PATCH/DELETE carry a form body as a browser-less client would.
    return client.generic(
        method, url, urlencode(data), "application/x-www-form-urlencoded", **extra
    )


def expectation(entry: Entry, persona: str) -> str:
    if entry.kind == INBOUND:
        return "signature_refused"
    if entry.kind == NOT_FOUND:
        return "not_found"
    if entry.allows(persona):
        return "allowed"
    if persona == ANONYMOUS:
        return {CONSOLE: "login", API: "unauthenticated", ADMIN: "admin_login"}[entry.kind]
    if entry.kind == ADMIN and (persona == OUTSIDER or not R[persona].staff):
        return "admin_login"
    return "forbidden"


def api_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (status, response.status_code, response.content[:300])
    error = response.json()["error"]
    assert {"code", "message", "request_id"} <= set(error), error
    if code is not None:
        assert error["code"] == code, error
    return error


def check(expected: str, entry: Entry, response, method: str) -> None:
    status = response.status_code
    where = response.get("Location", "")
    if expected == "allowed":
        assert status < 500, status
        assert status not in (401, 403), (status, response.content[:300])
        if method == "GET":
            assert 200 <= status < 400, status
        if 300 <= status < 400:
            # The sign-in gates redirect with ?next=; signing out lands on the login page.
            assert not where.startswith((LOGIN + "?next=", ADMIN_LOGIN)), where
    elif expected == "login":
        assert status == 302, status
        assert where.startswith(LOGIN), where
    elif expected == "admin_login":
        assert status == 302, status
        assert where.startswith(ADMIN_LOGIN), where
    elif expected == "unauthenticated":
        api_error(response, 401, "NOT_AUTHENTICATED")
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    elif expected == "forbidden":
        assert status == 403, (status, response.content[:300])
        if entry.kind == API:
            api_error(response, 403, "PERMISSION_DENIED")
    elif expected == "signature_refused":
        api_error(response, 401, "signature_missing")
    elif expected == "not_found":
        api_error(response, 404, "NOT_FOUND")
    else:  # pragma: no cover - a typo in expectation()
        raise AssertionError(expected)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_matrix(world, as_persona, name, persona):
    entry = MATRIX[name]
    client = as_persona(persona)
    expected = expectation(entry, persona)
    url = entry.url(name, world)
    for method in entry.methods:
        if method in UNSAFE_METHODS and expected != "allowed":
            with NothingWritten():
                response = send(client, method, url, entry, world)
        else:
            response = send(client, method, url, entry, world)
        check(expected, entry, response, method)


def _probe_persona(entry: Entry) -> str:
    if entry.allowed == EVERYONE or entry.kind == INBOUND:
        return ANONYMOUS
    if entry.allowed == SIGNED_IN:
        return OUTSIDER
    return ADMIN_ROLE if ADMIN_ROLE in entry.allowed else sorted(entry.allowed)[0]


@pytest.mark.parametrize(
    "name", sorted(k for k, e in MATRIX.items() if e.kind not in (ADMIN, NOT_FOUND))
)
def test_matrix_methods_not_listed_answer_405(world, as_persona, name):
    """The table's methods are all the view accepts, so the CSRF tests see every mutation."""
    entry = MATRIX[name]
    client = as_persona(_probe_persona(entry))
    url = entry.url(name, world)
    for method in PROBED_METHODS:
        if method in entry.methods:
            continue
        with NothingWritten():
            response = send(client, method, url, entry, world)
        assert response.status_code == 405, (method, response.status_code)


def test_search_shows_an_outsider_nothing(world, as_persona):
    """console:search is open to any signed-in person; what it finds follows their role."""
    url = reverse("console:search") + "?q=PO-1"

    found = as_persona(VIEWER).get(url).context["results"]
    nothing = as_persona(OUTSIDER).get(url).context["results"]

    assert found.purchase_orders
    assert found.invoices
    assert nothing.empty


# --- docs/security.md -----------------------------------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs" / "security.md"
START, END = "<!-- matrix:start -->", "<!-- matrix:end -->"
_MARK = {True: "✓", False: "·"}


# What each role may do, as roles.py grants it (DESIGN §9's separate permissions).
CAPABILITIES = (
    ("read the console and the status API", "pipeline.view_transaction"),
    (
        "work exceptions (claim, comment, resolve, hold, reject)",
        "exceptions.change_businessexception",
    ),
    ("replay one transaction or exception", "accounts.replay"),
    ("accept a price/quantity variance", "p2p.accept_variance"),
    ("view payloads (patient identifiers still masked)", "accounts.view_payload"),
    ("edit and replay", "accounts.edit_and_replay"),
    ("bulk replay", "accounts.bulk_replay"),
    ("pause, resume and configure connectors", "accounts.administer_connectors"),
    ("propose a mapping fix", "accounts.fix_mapping"),
    ("approve a mapping (not one's own)", "accounts.approve_mapping"),
    ("edit master data in the admin", "masterdata.change_supplier"),
    ("read the audit log and users in the admin", "auditlog.view_logentry"),
    ("issue and revoke API tokens", "accounts.add_apitoken"),
)


def _grants(role: roles.Role, permission: str) -> bool:
    return "*" in role.permissions or permission in role.permissions


def capabilities_markdown() -> str:
    heads = ["may", *(role.name for role in roles.ROLES)]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for label, permission in CAPABILITIES:
        cells = [_MARK[_grants(role, permission)] for role in roles.ROLES]
        lines.append(f"| {label} (`{permission}`) | " + " | ".join(cells) + " |")
    cells = [_MARK[role.staff] for role in roles.ROLES]
    lines.append("| open the Django admin (staff) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def matrix_markdown() -> str:
    """The URL table of docs/security.md, generated from MATRIX."""
    heads = ["URL name", "methods", "anonymous", "outsider", *(R[slug].name for slug in R)]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for name in sorted(MATRIX, key=lambda key: (MATRIX[key].kind == ADMIN, key)):
        entry = MATRIX[name]
        if entry.kind == INBOUND:
            cells = ["HMAC"] * (len(heads) - 2)
        elif entry.kind == NOT_FOUND:
            cells = ["404"] * (len(heads) - 2)
        else:
            cells = [_MARK[entry.allows(persona)] for persona in PERSONAS]
        lines.append(f"| `{name}` | {', '.join(entry.methods)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def docs_block() -> str:
    return "\n\n".join(
        [
            START,
            "### What each role may do\n\n" + capabilities_markdown(),
            "### Who may use each URL\n\n"
            "✓ allowed, · refused (anonymous: sent to sign in, or 401 from the API; signed in: "
            "403; the admin sends non-staff to its own sign-in). HMAC: the sender's signature "
            "decides, whoever calls.\n\n" + matrix_markdown(),
            END,
        ]
    )


def test_docs_capabilities_are_what_the_groups_grant(world):
    for role in roles.ROLES:
        user = world.users[role.slug]
        for _, permission in CAPABILITIES:
            assert user.has_perm(permission) == _grants(role, permission), (role.slug, permission)
        assert user.is_staff == role.staff


def test_docs_role_table_is_generated_from_the_matrix():
    text = DOCS.read_text()
    block = docs_block()
    if os.environ.get("HUBCONSOLE_WRITE_DOCS") == "1":
        text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda m: block, text, flags=re.S)
        DOCS.write_text(text)
    assert block in text, (
        "docs/security.md's role table is not the matrix's; regenerate it with "
        "HUBCONSOLE_WRITE_DOCS=1 pytest tests/security/test_permission_matrix.py -k docs"
    )
