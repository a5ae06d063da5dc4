"""Fixtures of the status API tests: bearer tokens, a failed transaction, and a small set of
procure-to-pay documents built straight in the database."""

import datetime
from decimal import Decimal

import pytest
from django.test import Client

from apps.accounts.services import api_token_create
from apps.exceptions.models import BusinessException
from apps.masterdata.models import CostCenter, Item, LegalEntity, Supplier, UnitOfMeasure
from apps.p2p.models import (
    APVoucher,
    Invoice,
    InvoiceLine,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
    ShipNotice,
    ShipNoticeLine,
)
from apps.pipeline.choices import WorkStageChoices as Stage
from apps.pipeline.models import Transaction
from apps.pipeline.services import work_drain
from tests.conftest import make_webhook
from tests.pipeline.builders import receive_json

API = "/api/v1"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Personas are created with a password; PBKDF2 costs ~0.3 s per user and buys nothing here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def make_token(db):
    """Issue a token (as the command line would) and return its secret."""

    def make(user, *scopes: str, days: int = 30) -> str:
        _, secret = api_token_create(
            owner=user, name="test", scopes=list(scopes) or ["read"], days=days, actor=None
        )
        return secret

    return make


@pytest.fixture
def token_client(make_token):
    """A client that sends ``user``'s bearer token with every request."""

    def make(user, *scopes: str) -> Client:
        return Client(headers=bearer(make_token(user, *scopes)))

    return make


@pytest.fixture
def connector(db):
    return make_webhook()


@pytest.fixture
def make_failed(connector):
    """An inbound transaction stopped with a SCHEMA_INVALID exception (no document id)."""
    count = iter(range(1, 10_000))

    def make() -> Transaction:
        n = next(count)
        received = receive_json(
            connector, key=f"bad-{n}", raw=b'{"patient": "Jane Roe", "no": "id"}'
        )
        work_drain(stage=Stage.PROCESS)
        return Transaction.objects.get(pk=received.transaction_id)

    return make


@pytest.fixture
def failed_tx(make_failed):
    return make_failed()


@pytest.fixture
def failed_exception(make_failed) -> BusinessException:
    return BusinessException.objects.get(transaction=make_failed())


# --- Procure-to-pay documents -------------------------------------------------------------------

ON = datetime.date(2026, 11, 2)


@pytest.fixture
def documents(connector):
    """PO-1 (two lines, partly shipped, received and invoiced), its receipt GR-1, ship notice
    ASN-1, invoice INV-1 (matched, vouchered) and, from another supplier, a second INV-1."""
    source = Transaction.objects.get(pk=receive_json(connector, {"id": "PO-1"}).transaction_id)
    entity = LegalEntity.objects.create(code="LE1", name="North Health")
    center = CostCenter.objects.create(code="CC-OR", name="Operating rooms", legal_entity=entity)
    each = UnitOfMeasure.objects.create(code="EA", name="Each")
    acme = Supplier.objects.create(code="SUP-1", name="Acme Medical", normalized_name="acme")
    other = Supplier.objects.create(code="SUP-2", name="Other Supplies", normalized_name="other")
    items = [
        Item.objects.create(code=f"ITEM-{n}", name=f"Item {n}", stocking_uom=each) for n in (1, 2)
    ]
    po = PurchaseOrder.objects.create(
        po_number="PO-1",
        status="partly_received",
        supplier=acme,
        legal_entity=entity,
        cost_center=center,
        po_date=ON,
        total_amount=Decimal("525.00"),
        source_transaction=source,
        correlation_id="corr-po-1",
    )
    lines = [
        PurchaseOrderLine.objects.create(
            purchase_order=po,
            line_number="1",
            item=items[0],
            unit="EA",
            quantity=Decimal(10),
            unit_price=Decimal("12.50"),
            shipped_quantity=Decimal(10),
            received_quantity=Decimal(10),
            invoiced_quantity=Decimal(10),
            invoiced_amount=Decimal("125.00"),
        ),
        PurchaseOrderLine.objects.create(
            purchase_order=po,
            line_number="2",
            item=items[1],
            unit="EA",
            quantity=Decimal(4),
            unit_price=Decimal("100.00"),
            shipped_quantity=Decimal(2),
        ),
    ]
    receipt = Receipt.objects.create(
        receipt_id="GR-1", purchase_order=po, received_date=ON, source_transaction=source
    )
    ReceiptLine.objects.create(receipt=receipt, po_line=lines[0], quantity=Decimal(10), lot="L7")
    notice = ShipNotice.objects.create(
        supplier=acme, shipment_id="ASN-1", ship_date=ON, source_transaction=source
    )
    ShipNoticeLine.objects.create(ship_notice=notice, po_line=lines[0], quantity=Decimal(10))
    ShipNoticeLine.objects.create(ship_notice=notice, po_line=lines[1], quantity=Decimal(2))
    invoice = Invoice.objects.create(
        supplier=acme,
        invoice_number="INV-1",
        status="vouchered",
        purchase_order=po,
        invoice_date=ON,
        lines_amount=Decimal("125.00"),
        total_amount=Decimal("125.00"),
        match_result={"matched": True, "waiting_for_receipt": False, "variances": []},
        source_transaction=source,
        correlation_id="corr-inv-1",
    )
    InvoiceLine.objects.create(
        invoice=invoice,
        line_number="1",
        po_line=lines[0],
        unit="EA",
        quantity=Decimal(10),
        unit_price=Decimal("12.50"),
        amount=Decimal("125.00"),
    )
    APVoucher.objects.create(
        invoice=invoice,
        voucher_id="V-INV-1",
        status="posted",
        amount=Decimal("125.00"),
        erp_reference="AP-778",
        match_outcome="matched",
    )
    Invoice.objects.create(
        supplier=other,
        invoice_number="INV-1",
        status="exception",
        invoice_date=ON,
        lines_amount=Decimal(1),
        total_amount=Decimal(1),
        match_result={
            "matched": False,
            "waiting_for_receipt": False,
            "variances": [
                {
                    "code": "PRICE_VARIANCE",
                    "level": "line",
                    "measure": "price",
                    "line_number": "1",
                    "expected": "1.00",
                    "actual": "2.00",
                    "difference": "1.00",
                    "tolerance": "exact",
                }
            ],
        },
        source_transaction=source,
        correlation_id="corr-inv-1b",
    )
    return {"po": po, "invoice": invoice, "receipt": receipt, "notice": notice}
