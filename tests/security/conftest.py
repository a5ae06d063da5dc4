"""Fixtures of the security tests: one persona per role of apps/accounts/roles.py, and one
small world (personas, a failed transaction and its exception, procure-to-pay documents, a
bulk replay job) built once per test module.

The world is built inside a transaction that stays open for the module and is rolled back at
its end; each test runs in a savepoint inside it (pytest-django's ``db``), so a POST that an
allowed role makes changes nothing the next test sees. Building it once keeps the few hundred
matrix cases fast.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import connection, transaction
from django.http import QueryDict
from django.test import Client
from django.test.client import ClientHandler
from django.urls import reverse

from apps.accounts import roles
from apps.exceptions.models import BusinessException
from apps.masterdata.models import (
    CostCenter,
    CrossReference,
    ExternalSystem,
    Item,
    LegalEntity,
    Supplier,
    UnitOfMeasure,
)
from apps.masterdata.services.mappings import crossref_propose_for_root_cause
from apps.p2p.models import (
    Invoice,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ShipNotice,
)
from apps.pipeline.choices import WorkStageChoices as Stage
from apps.pipeline.models import Transaction
from apps.pipeline.services import work_drain
from apps.replays.models import ReplayJob
from apps.replays.services import replay_job_submit
from tests.conftest import make_webhook
from tests.pipeline.builders import receive_json

ANONYMOUS = "anonymous"
OUTSIDER = "outsider"  # signed in, holds no role
ROLE_SLUGS = tuple(role.slug for role in roles.ROLES)
PERSONAS = (ANONYMOUS, OUTSIDER, *ROLE_SLUGS)
# A payload with a patient's name in it: pages and answers must never show it unmasked.
PATIENT_NAME = "Jane Roe"
ON = datetime.date(2026, 11, 2)
# A root cause fixed by a mapping: a supplier code the procurement system sends, unknown here.
MAPPING_KEY = "supplier:PROCUREMENT:SUP-SEC-9"


def persona_create(username: str, role: roles.Role | None) -> User:
    user = User.objects.create_user(username, f"{username}@example.org", "pw-" + username)
    if role is not None:
        user.groups.add(Group.objects.get(name=role.name))
        user.is_staff = role.staff
        user.save(update_fields=["is_staff"])
    return user


@dataclass
class World:
    """What the matrix builds URLs from: one object of each kind a URL names."""

    users: dict[str, User]
    connector: object
    tx: Transaction
    exception: BusinessException
    po: PurchaseOrder
    invoice: Invoice
    receipt: Receipt
    notice: ShipNotice
    supplier: Supplier
    job: ReplayJob
    mapping_key: str
    proposal: CrossReference


def _documents(source: Transaction) -> dict:
    """PO-1 with one line, its receipt GR-1, ship notice ASN-1 and invoice INV-1 (SUP-1)."""
    entity = LegalEntity.objects.create(code="LE-SEC", name="Security Health")
    center = CostCenter.objects.create(code="CC-SEC", name="Operating rooms", legal_entity=entity)
    each = UnitOfMeasure.objects.create(code="EA", name="Each")
    supplier = Supplier.objects.create(code="SUP-1", name="Acme Medical", normalized_name="acme")
    item = Item.objects.create(code="ITEM-1", name="Item 1", stocking_uom=each)
    po = PurchaseOrder.objects.create(
        po_number="PO-1",
        status="open",
        supplier=supplier,
        legal_entity=entity,
        cost_center=center,
        po_date=ON,
        total_amount=Decimal("125.00"),
        source_transaction=source,
        correlation_id="corr-sec-po-1",
    )
    PurchaseOrderLine.objects.create(
        purchase_order=po,
        line_number="1",
        item=item,
        unit="EA",
        quantity=Decimal(10),
        unit_price=Decimal("12.50"),
    )
    receipt = Receipt.objects.create(
        receipt_id="GR-1", purchase_order=po, received_date=ON, source_transaction=source
    )
    notice = ShipNotice.objects.create(
        supplier=supplier, shipment_id="ASN-1", ship_date=ON, source_transaction=source
    )
    invoice = Invoice.objects.create(
        supplier=supplier,
        invoice_number="INV-1",
        status="received",
        purchase_order=po,
        invoice_date=ON,
        lines_amount=Decimal("125.00"),
        total_amount=Decimal("125.00"),
        source_transaction=source,
        correlation_id="corr-sec-inv-1",
    )
    return {
        "po": po,
        "invoice": invoice,
        "receipt": receipt,
        "notice": notice,
        "supplier": supplier,
    }


def world_build() -> World:
    users = {role.slug: persona_create(f"sec-{role.slug}", role) for role in roles.ROLES}
    users[OUTSIDER] = persona_create("sec-outsider", None)
    connector = make_webhook()
    received = receive_json(
        connector, key="sec-bad", raw=f'{{"patient": "{PATIENT_NAME}", "no": "id"}}'.encode()
    )
    work_drain(stage=Stage.PROCESS)
    tx = Transaction.objects.get(pk=received.transaction_id)
    exception = BusinessException.objects.get(transaction=tx)
    job = replay_job_submit(
        kind="exceptions",
        params=QueryDict("status=open"),
        actor=users[roles.ADMIN.slug],
        dry_run=True,
    )
    documents = _documents(tx)
    # A supplier code the procurement system sends that no mapping knows yet, and a steward's
    # proposal for it (approved by a second steward on the console).
    ExternalSystem.objects.create(code="PROCUREMENT", name="Procurement SaaS")
    proposal = crossref_propose_for_root_cause(
        actor=users[roles.DATA_STEWARD.slug],
        root_cause_key=MAPPING_KEY,
        target=documents["supplier"],
    )
    return World(
        users=users,
        connector=connector,
        tx=tx,
        exception=exception,
        job=job,
        mapping_key=MAPPING_KEY,
        proposal=proposal,
        **documents,
    )


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The module's world, rolled back when the module ends (see the module docstring)."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            built = world_build()
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    yield built
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)


# Each new test Client loads the middleware again, and WhiteNoise then scans every static
# file (about 50 ms with the API docs' assets); a few hundred clients share two handlers.
_handlers: dict[bool, ClientHandler] = {}


def new_client(*, enforce_csrf_checks: bool = False, **kwargs) -> Client:
    client = Client(enforce_csrf_checks=enforce_csrf_checks, **kwargs)
    client.handler = _handlers.setdefault(enforce_csrf_checks, ClientHandler(enforce_csrf_checks))
    return client


@pytest.fixture
def as_persona(world, db):
    """``as_persona(name, **client_kwargs)``: a test client signed in as that persona (not
    signed in for ``anonymous``)."""

    def make(name: str, **kwargs) -> Client:
        client = new_client(**kwargs)
        if kwargs.get("enforce_csrf_checks"):
            # The CSRF cookie a browser gets from the first page it opens.
            client.get(reverse("accounts:login"))
        if name != ANONYMOUS:
            client.force_login(world.users[name])
        return client

    return make


def csrf_token(client: Client) -> str:
    return client.cookies[settings.CSRF_COOKIE_NAME].value


# --- Nothing changed ------------------------------------------------------------------------
# PostgreSQL counts the rows each table had inserted, updated or deleted in the current
# transaction (pg_stat_xact_user_tables); a refused request must not move any of them. This
# sees every table, including ones added after these tests were written.
_NOT_BUSINESS_DATA = {"django_session"}


def db_writes() -> dict[str, tuple[int, int, int]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_xact_user_tables "
            "WHERE n_tup_ins + n_tup_upd + n_tup_del > 0"
        )
        return {
            name: (ins, upd, dele)
            for name, ins, upd, dele in cursor.fetchall()
            if name not in _NOT_BUSINESS_DATA
        }


class NothingWritten:
    """``with NothingWritten(): ...`` fails if the block wrote any row to any table."""

    def __enter__(self):
        self.before = db_writes()
        return self

    def __exit__(self, kind, value, traceback):
        if kind is not None:
            return False
        after = db_writes()
        changed = {
            name: (self.before.get(name), counts)
            for name, counts in after.items()
            if self.before.get(name) != counts
        }
        assert not changed, f"a refused request wrote to the database: {changed}"
        return False
