"""Procure-to-pay end to end over real HTTP and SFTP, with real Celery workers and beat.

Procurement posts a PO webhook → the ERP (sandbox, over HTTP) creates it → the 850 goes to the
supplier's SFTP folder → the simulated supplier answers with 855, 856 and 810 files and the
dock posts the receipt webhook → pickup over SFTP splits the interchanges, acknowledges them
with 997s, matches the invoice and posts the AP voucher to the ERP.
"""

import json
import os

import httpx
import pytest

from apps.connectors.choices import ConnectorKindChoices, MessageFormatChoices
from apps.connectors.models import Connector
from apps.connectors.signing import sign
from apps.edi.models import TradingPartner
from apps.exceptions.models import BusinessException
from apps.masterdata.models import ExternalSystem
from apps.p2p import canonical as doc
from apps.p2p.models import Invoice, PurchaseOrder
from apps.pipeline.models import Transaction
from apps.sandbox.supplier import SupplierConfig, SupplierSimulator
from tests.conftest import PASSWORD, PASSWORD_ENV, USERNAME, WEBHOOK_SECRET, wait_until
from tests.p2p.conftest import mapped, po_document

pytestmark = [pytest.mark.slow]
PARTNER = "ACMEEDI"


@pytest.fixture
def edi_network(network, sandbox_url, sftp_server):
    """The test network wired to the sandbox ERP and to one supplier that trades by EDI."""
    for slug, path in (
        ("erp-orders", "purchase-orders"),
        ("erp-receipts", "receipts"),
        ("erp-vouchers", "ap-vouchers"),
    ):
        Connector.objects.filter(slug=slug).update(
            settings={"url": f"{sandbox_url}/erp/{path}"},
            backoff_base_seconds=0.2,
            backoff_cap_seconds=1,
        )
    for folder in ("acme/in", "acme/out"):
        (sftp_server.root / folder).mkdir(parents=True)
    server = {
        "host": "127.0.0.1",
        "port": sftp_server.port,
        "username": USERNAME,
        "password_env": PASSWORD_ENV,
        "host_key": sftp_server.public_key,
    }
    outbound = Connector.objects.create(
        slug="acme-edi-out",
        name="Acme EDI out",
        kind=ConnectorKindChoices.SFTP_OUT,
        settings={**server, "path": "/acme/in"},
        backoff_base_seconds=0.2,
        backoff_cap_seconds=1,
    )
    Connector.objects.create(
        slug="acme-edi-in",
        name="Acme EDI in",
        kind=ConnectorKindChoices.SFTP_IN,
        format=MessageFormatChoices.X12,
        document_type="x12.interchange",
        settings={
            **server,
            "path": "/acme/out",
            "pattern": "*.x12",
            "min_age_seconds": 0,
            "erp_vouchers": "erp-vouchers",
        },
        poll_interval_seconds=1,
    )
    x12 = ExternalSystem.objects.create(code="X12", name="X12 trading partners")
    mapped(x12, network["supplier"], f"ZZ:{PARTNER}")
    TradingPartner.objects.create(name="Acme", isa_id=PARTNER, outbound=outbound)
    return network


def post_webhook(base_url: str, slug: str, document: dict) -> None:
    body = json.dumps(document).encode()
    response = httpx.post(
        f"{base_url}/in/webhooks/{slug}",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-HubConsole-Signature": sign(WEBHOOK_SECRET, body),
        },
        timeout=10,
    )
    assert response.status_code == 202, response.text


def simulator(sftp_server, live_server, scenario: str) -> SupplierSimulator:
    return SupplierSimulator(
        root=sftp_server.root,
        suppliers=[SupplierConfig("acme", PARTNER)],
        hubconsole_id="HUBCONSOLE",
        base_url=live_server.url,
        receipt_webhook="inventory-receipts",
        secret=WEBHOOK_SECRET,
        ship_delay=0,
        invoice_delay=0,
        scenario=scenario,
        catalogue=lambda config: {},
    )


def run_supplier(supplier: SupplierSimulator, until, *, timeout: float, message: str):
    def stepped():
        supplier.step()
        return until()

    return wait_until(stepped, timeout=timeout, interval=0.5, message=message)


def erp_list(sandbox_url: str, resource: str) -> list[dict]:
    answer = httpx.get(f"{sandbox_url}/erp/{resource}", timeout=10).json()
    return answer.get("documents", answer if isinstance(answer, list) else [])


@pytest.mark.django_db(transaction=True)
def test_purchase_order_to_ap_voucher_over_http_and_sftp(
    edi_network, sandbox, sandbox_url, sftp_server, live_server, start_worker, start_beat
):
    env = {PASSWORD_ENV: PASSWORD, "HUBCONSOLE_PICKUP_SECONDS": "1"}
    os.environ[PASSWORD_ENV] = PASSWORD
    start_worker(**env)
    start_beat(**env)

    post_webhook(live_server.url, "procurement-po", po_document("PO-E2E-1"))
    inbox = sftp_server.root / "acme" / "in"
    wait_until(
        lambda: list(inbox.glob("850-*.x12")), timeout=60, message="the 850 on the supplier's SFTP"
    )
    order = PurchaseOrder.objects.get(po_number="PO-E2E-1")
    assert order.erp_reference.startswith("ERP-PO-")

    supplier = simulator(sftp_server, live_server, "clean")
    run_supplier(
        supplier,
        lambda: Invoice.objects.filter(status="vouchered").exists(),
        timeout=120,
        message="the invoice matched and its voucher posted",
    )

    order.refresh_from_db()
    assert order.status == "received"
    assert order.ack_status == "accepted"
    line = order.lines.get(line_number="1")
    assert (line.shipped_quantity, line.received_quantity, line.invoiced_quantity) == (10, 10, 10)
    invoice = Invoice.objects.get()
    assert invoice.voucher.status == "posted"
    assert invoice.voucher.erp_reference.startswith("ERP-AP-")
    vouchers = httpx.get(f"{sandbox_url}/erp/ap-vouchers", timeout=10).text
    assert invoice.voucher.voucher_id in vouchers
    # Each interchange the supplier sent was split into its sets and acknowledged with a 997.
    interchanges = Transaction.objects.filter(document_type="x12.interchange")
    assert interchanges.count() >= 3
    children = Transaction.objects.filter(parent__in=interchanges, direction="in")
    assert set(children.values_list("document_type", flat=True)) == {
        doc.PO_ACKNOWLEDGMENT,
        doc.SHIP_NOTICE,
        doc.INVOICE,
    }
    assert set(children.values_list("status", flat=True)) == {"completed"}
    acks = Transaction.objects.filter(document_type="x12.acknowledgment.out")
    wait_until(
        lambda: acks.filter(status="completed").count() == interchanges.count(),
        timeout=30,
        message="a 997 delivered for every interchange",
    )
    assert b"ST*997*" in bytes(acks.first().raw)
    assert not BusinessException.objects.filter(status="open").exists()


@pytest.mark.django_db(transaction=True)
def test_price_change_and_duplicate_invoice_become_exceptions_end_to_end(
    edi_network, sandbox, sftp_server, live_server, start_worker, start_beat
):
    env = {PASSWORD_ENV: PASSWORD, "HUBCONSOLE_PICKUP_SECONDS": "1"}
    os.environ[PASSWORD_ENV] = PASSWORD
    start_worker(**env)
    start_beat(**env)
    inbox = sftp_server.root / "acme" / "in"

    post_webhook(live_server.url, "procurement-po", po_document("PO-E2E-2"))
    wait_until(lambda: list(inbox.glob("850-*.x12")), timeout=60, message="the first 850")
    supplier = simulator(sftp_server, live_server, "price_change")
    # The 855 and the 810 arrive in separate files and may be processed in either order.
    run_supplier(
        supplier,
        lambda: (
            set(
                BusinessException.objects.filter(
                    code_id__in=["PRICE_VARIANCE", "PO_ACK_CHANGED"]
                ).values_list("code_id", flat=True)
            )
            == {"PRICE_VARIANCE", "PO_ACK_CHANGED"}
        ),
        timeout=120,
        message="the changed acknowledgment and the price variance on the invoice",
    )

    post_webhook(live_server.url, "procurement-po", po_document("PO-E2E-3", event_id="e3"))
    wait_until(lambda: len(list(inbox.glob("850-*.x12"))) >= 1, timeout=60, message="850")
    supplier = simulator(sftp_server, live_server, "duplicate_invoice")
    run_supplier(
        supplier,
        lambda: BusinessException.objects.filter(code_id="DUPLICATE_INVOICE").exists(),
        timeout=120,
        message="the duplicate invoice",
    )
    assert Invoice.objects.filter(purchase_order__po_number="PO-E2E-3").count() == 1
