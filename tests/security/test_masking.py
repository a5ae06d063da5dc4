"""Patient identifiers (DESIGN §9) across the product, role by role: the console's transaction
screen, the status API, the admin, SLA alert e-mails and log records.

apps/core/masking.py is tested on its own (tests/core/test_masking.py: the corpus, fuzzing);
tests/console/test_views.py and tests/api/test_transactions.py check a JSON name for a viewer
and an engineer. Here: an HL7 v2 message with a PID segment and a JSON document with nested
patient keys, seen by every role; a target's refusal that quotes a patient, followed through
the API, the admin, the alert e-mails and the logs.
"""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from apps.accounts import roles
from apps.alerts.services import alerts_scan, alerts_send
from apps.connectors.choices import ConnectorKindChoices
from apps.connectors.models import Connector
from apps.connectors.signing import SIGNATURE_HEADER, sign
from apps.exceptions.models import BusinessException
from apps.pipeline.choices import WorkStageChoices as Stage
from apps.pipeline.models import Transaction
from apps.pipeline.services import InboundMessage, transaction_receive, work_drain
from tests.conftest import WEBHOOK_SECRET, make_rest_target, make_webhook
from tests.pipeline.builders import receive_json
from tests.security.conftest import ROLE_SLUGS, new_client

pytestmark = pytest.mark.django_db

# The roles whose group holds accounts.view_payload (roles.py); checked against has_perm below.
PAYLOAD_READERS = frozenset(
    {
        roles.REVENUE_INTEGRITY_ANALYST.slug,
        roles.INTEGRATION_ENGINEER.slug,
        roles.ADMIN.slug,
    }
)
NON_READERS = sorted(set(ROLE_SLUGS) - PAYLOAD_READERS)

HL7 = "\r".join(
    [
        "MSH|^~\\&|ORMGR|NORTH|BILLING|NORTH|202611020830||DFT^P03|SEC0001|P|2.5",
        "EVN|P03|202611020830",
        "PID|1|EXT778899|MRN123456^^^NORTH^MR||ROE^JANE^Q||19800101|F|||"
        "12 ELM ST^^SPRINGFIELD^IL^62701||555-0100|555-0199||||ACCT-1|123-45-6789",
        "PV1|1|O|OR1",
        "FT1|1|||202611020830||CG|IMPLANT-77^Hip implant|||1",
        "",
    ]
)
JSON_DOCUMENT = {
    "id": "CHG-SEC-1",
    "po_number": "PO-77",
    "patient": {"mrn": "MRN-0042", "name": "Jane Roe", "address": {"line": "12 Elm St"}},
    "subscriber_id": "SUB-9911",
    "lines": [{"sku": "IMPLANT-77", "dob": "1980-01-01"}],
}
# What must never show, and what a payload reader still needs to fix the message.
IDENTIFIERS = {
    "hl7v2": ["ROE^JANE", "MRN123456", "EXT778899", "19800101", "12 ELM ST", "555-0100", "45-6789"],
    "json": ["Jane Roe", "MRN-0042", "12 Elm St", "SUB-9911", "1980-01-01"],
}
KEPT = {
    "hl7v2": ["DFT^P03", "FT1|1|", "IMPLANT-77^Hip implant", "PV1|1|O|OR1"],
    "json": ['"po_number": "PO-77"', '"sku": "IMPLANT-77"', '"mrn": "***"'],
}


def _receive_raw(connector: Connector, raw: bytes, key: str) -> Transaction:
    received = transaction_receive(
        message=InboundMessage(
            connector_id=connector.pk,
            format=connector.format,
            document_type=connector.document_type,
            raw=raw,
            idempotency_key=f"in:{connector.pk}:{key}",
        )
    )
    return Transaction.objects.get(pk=received.transaction_id)


@pytest.fixture(scope="module")
def payloads(world, django_db_blocker) -> dict[str, Transaction]:
    """An HL7 DFT^P03 (received) and a JSON document (processed, so it has a canonical)."""
    with django_db_blocker.unblock():
        lab = Connector.objects.create(
            slug="sec-hl7",
            name="Operating rooms HL7",
            kind=ConnectorKindChoices.FILE_IN,
            format="hl7v2",
            document_type="charge.dft",
        )
        hl7 = _receive_raw(lab, HL7.encode(), "sec-hl7-1")
        document = _receive_raw(world.connector, json.dumps(JSON_DOCUMENT).encode(), "sec-json-1")
        work_drain(stage=Stage.PROCESS)
        document.refresh_from_db()
        return {"hl7v2": hl7, "json": document}


def test_masking_payload_readers_are_the_roles_with_the_permission(world):
    holders = {slug for slug in ROLE_SLUGS if world.users[slug].has_perm("accounts.view_payload")}
    assert holders == PAYLOAD_READERS


@pytest.mark.parametrize("role", ROLE_SLUGS)
@pytest.mark.parametrize("kind", ["hl7v2", "json"])
def test_masking_console_transaction_screen(payloads, as_persona, kind, role):
    """Readers see the message with the patient masked; others see no payload at all."""
    tx = payloads[kind]
    page = as_persona(role).get(reverse("console:transaction_detail", args=[tx.pk]))
    html = page.content.decode()

    assert page.status_code == 200
    for identifier in IDENTIFIERS[kind]:
        assert escape(identifier) not in html, identifier
        assert identifier not in html, identifier
    if role in PAYLOAD_READERS:
        assert 'class="payload"' in html
        for kept in KEPT[kind]:
            assert escape(kept) in html, kept
    else:
        assert 'class="payload"' not in html


@pytest.mark.parametrize("role", ROLE_SLUGS)
def test_masking_api_never_returns_the_payload(payloads, as_persona, role):
    client = as_persona(role)
    for kind, tx in payloads.items():
        detail = client.get(f"/api/v1/transactions/{tx.pk}/")
        lineage = client.get(f"/api/v1/lineage/{tx.correlation_id}/")
        listing = client.get("/api/v1/transactions/")

        assert detail.status_code == lineage.status_code == listing.status_code == 200
        assert "raw" not in detail.json()
        canonical = detail.json()["canonical"]
        if role in PAYLOAD_READERS:
            assert kind == "hl7v2" or canonical["document_id"] == JSON_DOCUMENT["id"]
        else:
            assert canonical is None
            for response in (detail, lineage, listing):
                for identifier in IDENTIFIERS[kind]:
                    assert identifier not in response.content.decode(), (kind, identifier)


# --- A target's refusal that quotes a patient -----------------------------------------------
# Targets answer in their own words, which may name the patient (the REST transport keeps them
# in the exception's and event's details "shown only to people who may see payloads").

TARGET_WORDS = "patient Jane Roe MRN 12345 not eligible"
QUOTED = ["Jane Roe", "MRN 12345"]


class _RejectingTarget(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"error": {"message": TARGET_WORDS}}).encode()
        self.send_response(422)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def target_url():
    """A target that refuses every posting (HTTP 422), quoting a patient."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RejectingTarget)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/documents"
    server.shutdown()
    server.server_close()


def _deliver_and_refuse(source_slug: str, target_slug: str, url: str, document_id: str):
    target = make_rest_target(url, slug=target_slug, max_attempts=1)
    source = make_webhook(target, slug=source_slug)
    receive_json(source, {"id": document_id, "po_number": "PO-88"})
    work_drain(stage=Stage.PROCESS)
    work_drain(stage=Stage.DELIVER)
    outbound = Transaction.objects.get(connector=target, document_id=document_id)
    return outbound, BusinessException.objects.get(transaction=outbound)


@pytest.fixture(scope="module")
def refused(world, target_url, django_db_blocker):
    with django_db_blocker.unblock():
        outbound, item = _deliver_and_refuse("sec-src", "sec-erp", target_url, "SEC-A-1")
    assert item.code_id == "DELIVERY_REJECTED"
    assert TARGET_WORDS in json.dumps(item.details)  # the words were kept, for readers
    return outbound, item


@pytest.mark.parametrize("role", NON_READERS)
def test_masking_api_transaction_and_lists_keep_the_targets_words_from_non_readers(
    refused, as_persona, role
):
    outbound, _ = refused
    client = as_persona(role)
    answers = [
        client.get(f"/api/v1/transactions/{outbound.pk}/"),
        client.get(f"/api/v1/lineage/{outbound.correlation_id}/"),
        client.get("/api/v1/transactions/"),
        client.get("/api/v1/exceptions/"),
    ]
    for response in answers:
        assert response.status_code == 200
        for quoted in QUOTED:
            assert quoted not in response.content.decode(), (response.request["PATH_INFO"], quoted)


def test_masking_api_transaction_shows_the_targets_words_to_readers(refused, as_persona):
    outbound, _ = refused

    body = as_persona(roles.INTEGRATION_ENGINEER.slug).get(f"/api/v1/transactions/{outbound.pk}/")

    assert TARGET_WORDS in body.content.decode()


@pytest.mark.parametrize("role", [roles.VIEWER.slug])
def test_masking_api_exception_detail_keeps_the_targets_words_from_non_readers(
    refused, as_persona, role
):
    _, item = refused

    response = as_persona(role).get(f"/api/v1/exceptions/{item.pk}/")

    assert response.status_code == 200
    for quoted in QUOTED:
        assert quoted not in response.content.decode(), quoted


def test_masking_admin_exception_page_keeps_the_targets_words_from_the_auditor(refused, as_persona):
    _, item = refused
    url = reverse("admin:exceptions_businessexception_change", args=[item.pk])

    response = as_persona(roles.AUDITOR.slug).get(url)

    assert response.status_code == 200
    for quoted in QUOTED:
        assert escape(quoted) not in response.content.decode(), quoted


@pytest.mark.parametrize("role", ROLE_SLUGS)
def test_masking_console_exception_screens_keep_the_targets_words_from_everyone(
    refused, as_persona, role
):
    """The exception screens show the summary, never the details, even to payload readers
    (who read the target's words on the transaction screen)."""
    _, item = refused
    client = as_persona(role)
    for url in (
        reverse("console:exception_detail", args=[item.pk]),
        reverse("console:exception_list"),
        reverse("console:exception_group_list"),
        reverse("alerts:alert_list"),
    ):
        html = client.get(url).content.decode()
        for quoted in QUOTED:
            assert escape(quoted) not in html, (url, quoted)


# --- Alert e-mails and logs ---------------------------------------------------------------------


def test_masking_alert_emails_and_logs_of_a_refused_delivery_carry_no_identifier(
    world, target_url, caplog, settings
):
    """End to end: a signed webhook whose document names a patient, processed, delivered to a
    target that refuses it quoting the patient, its exception breached and alerted."""
    settings.HUBCONSOLE = {**settings.HUBCONSOLE, "BASE_URL": "https://hubconsole.example.org"}
    target = make_rest_target(target_url, slug="sec-log-erp", max_attempts=1)
    source = make_webhook(target, slug="sec-log-src")
    body = json.dumps({**JSON_DOCUMENT, "id": "SEC-LOG-1"}).encode()

    with caplog.at_level("DEBUG"):
        response = new_client().post(
            f"/in/webhooks/{source.slug}",
            body,
            content_type="application/json",
            headers={SIGNATURE_HEADER: sign(WEBHOOK_SECRET, body)},
        )
        work_drain(stage=Stage.PROCESS)
        work_drain(stage=Stage.DELIVER)
        later = timezone.now() + timedelta(days=30)
        alerts_scan(now=later)
        alerts_send(now=later)

    assert response.status_code == 202
    item = BusinessException.objects.get(transaction__connector=target)
    assert item.code_id == "DELIVERY_REJECTED"
    assert mail.outbox, "the breach was alerted"
    secrets = [*QUOTED, *IDENTIFIERS["json"]]
    for message in mail.outbox:
        text = "\n".join(
            [message.subject, message.body, *(str(c) for c, _ in message.alternatives)]
        )
        assert f"/exceptions/{item.pk}/" in text or "exceptions" in text
        for secret in secrets:
            assert secret not in text, (message.subject, secret)
    logged = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    assert caplog.records, "the flow logs something"
    for secret in secrets:
        assert secret not in logged, secret
