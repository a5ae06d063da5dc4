"""Builders for the dashboards tests: rows written straight to the tables with the times each
test needs, so every figure per bucket is known in advance."""

import datetime
import itertools
import random
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from apps.accounts.roles import ROLES
from apps.connectors.choices import ConnectorKindChoices
from apps.connectors.models import Connector
from apps.exceptions.models import BusinessException, ExceptionCode
from apps.masterdata.models import Supplier
from apps.p2p.models import Invoice
from apps.pipeline.models import Transaction, TransactionEvent, WorkItem

UTC = datetime.UTC
# A fixed "now" for the selector tests: the 24-hour window's buckets start at 13:00 the day
# before and the last one (12:00) is half gone.
NOW = datetime.datetime(2026, 3, 10, 12, 30, tzinfo=UTC)
_serial = itertools.count(1)


def at(hour: int, minute: int = 0, second: float = 0, *, day: int = 10) -> datetime.datetime:
    """An instant of March 2026 in UTC (day 10 unless told)."""
    whole = int(second)
    return datetime.datetime(
        2026, 3, day, hour, minute, whole, round((second - whole) * 1_000_000), tzinfo=UTC
    )


def role_user(role) -> User:
    user = User.objects.create_user(role.slug, f"{role.slug}@example.org", "pw-" + role.slug)
    user.groups.add(Group.objects.get(name=role.name))
    user.is_staff = role.staff
    user.save(update_fields=["is_staff"])
    return user


@pytest.fixture(params=[role.slug for role in ROLES])
def role_member(request, db) -> User:
    """One signed-in person per role of apps/accounts/roles.py."""
    return role_user(next(role for role in ROLES if role.slug == request.param))


@pytest.fixture
def connector(db) -> Connector:
    return Connector.objects.create(
        slug="dash-in", name="Dashboard source", kind=ConnectorKindChoices.WEBHOOK_IN
    )


def make_tx(
    connector: Connector,
    *,
    received_at: datetime.datetime,
    completed_at: datetime.datetime | None = None,
    direction: str = "in",
    status: str | None = None,
) -> Transaction:
    n = next(_serial)
    return Transaction.objects.create(
        connector=connector,
        direction=direction,
        format="json",
        document_type="purchase_order",
        status=status or ("completed" if completed_at else "exception"),
        idempotency_key=f"dash:{n}",
        content_sha256="0" * 64,
        raw=b"{}",
        raw_size=2,
        correlation_id=f"corr-{n}",
        received_at=received_at,
        completed_at=completed_at,
        updated_at=completed_at or received_at,
    )


def make_event(tx: Transaction, *, kind: str, when: datetime.datetime) -> TransactionEvent:
    return TransactionEvent.objects.create(transaction=tx, kind=kind, at=when)


def make_exception(
    code: str,
    *,
    opened_at: datetime.datetime,
    supplier: str = "",
    facility: str = "",
    transaction: Transaction | None = None,
    status: str = "open",
) -> BusinessException:
    entry = ExceptionCode.objects.select_related("owning_team").get(code=code)
    return BusinessException.objects.create(
        code=entry,
        team=entry.owning_team,
        severity=entry.severity,
        status=status,
        transaction=transaction,
        root_cause_key=f"test:{next(_serial)}",
        summary=f"{code} for the dashboard tests",
        supplier=supplier,
        facility=facility,
        opened_at=opened_at,
        last_seen_at=opened_at,
        due_at=opened_at + datetime.timedelta(days=1),
    )


@pytest.fixture
def supplier(db) -> Supplier:
    return Supplier.objects.create(code="SUP-1", name="Acme Medical", normalized_name="acme")


def make_invoice(
    supplier: Supplier,
    source: Transaction,
    *,
    status: str,
    matched_at: datetime.datetime | None = None,
    updated_at: datetime.datetime | None = None,
    accepted_by: User | None = None,
) -> Invoice:
    invoice = Invoice.objects.create(
        supplier=supplier,
        invoice_number=f"INV-{next(_serial)}",
        status=status,
        invoice_date=datetime.date(2026, 3, 1),
        lines_amount=Decimal("100.00"),
        total_amount=Decimal("100.00"),
        matched_at=matched_at,
        source_transaction=source,
        correlation_id=source.correlation_id,
        accepted_by=accepted_by,
        accepted_at=matched_at if accepted_by else None,
        accepted_reason="agreed with the supplier" if accepted_by else "",
    )
    # updated_at is auto_now: set the instant the test needs after the insert.
    Invoice.objects.filter(pk=invoice.pk).update(updated_at=updated_at or matched_at or NOW)
    return invoice


def make_work(
    tx: Transaction,
    *,
    stage: str,
    available_at: datetime.datetime,
    leased_until: datetime.datetime | None = None,
) -> WorkItem:
    return WorkItem.objects.create(
        transaction=tx,
        stage=stage,
        connector=tx.connector,
        available_at=available_at,
        leased_until=leased_until,
        lease_owner="worker-1" if leased_until else "",
        created_at=tx.received_at,
    )


SUPPLIERS = ["SUP-1", "MEDLINE-04", "OWENS-17", "CARDINAL-2", "STRYKER-9", "BAXTER-3", "BD-11"]
FACILITIES = ["HOSP-N", "HOSP-S", "CLIN-3", "CLIN-5", "LAB-1", "ASC-2"]
CODES = [
    "PRICE_VARIANCE",
    "QTY_VARIANCE",
    "ITEM_UNKNOWN",
    "SUPPLIER_UNKNOWN",
    "SCHEMA_INVALID",
    "DELIVERY_REJECTED",
    "GR_MISSING",
    "RETRIES_EXHAUSTED",
    "UOM_CONVERSION_MISSING",
]


def seed_activity(connector: Connector, supplier: Supplier, *, days: int = 7, seed: int = 7):
    """A week of plausible traffic ending now, for the page and its screenshot: busier by day,
    a few slow deliveries, exceptions by several codes, suppliers and facilities, invoices
    matched with and without a person, resends, and work waiting."""
    rng = random.Random(seed)
    now = timezone.now()
    txs, events, exceptions = [], [], []
    codes = {c.code: c for c in ExceptionCode.objects.filter(code__in=CODES)}
    for hour in range(days * 24, 0, -1):
        start = now - datetime.timedelta(hours=hour)
        busy = 6 + 14 * (8 <= start.hour <= 18)
        for _ in range(rng.randint(busy // 2, busy)):
            received = start + datetime.timedelta(seconds=rng.uniform(0, 3600))
            roll = rng.random()
            latency = rng.lognormvariate(-0.5, 0.8) * (40 if roll > 0.97 else 1)
            completed = received + datetime.timedelta(seconds=latency)
            stopped = roll < 0.06
            n = next(_serial)
            txs.append(
                Transaction(
                    connector=connector,
                    direction="in" if rng.random() < 0.55 else "out",
                    format="json",
                    document_type="purchase_order",
                    status="exception" if stopped else "completed",
                    idempotency_key=f"seed:{n}",
                    content_sha256="0" * 64,
                    raw=b"{}",
                    raw_size=2,
                    correlation_id=f"seed-{n}",
                    received_at=received,
                    completed_at=None if stopped or completed > now else completed,
                    updated_at=received,
                )
            )
    Transaction.objects.bulk_create(txs, batch_size=1000)
    for tx in txs:
        if tx.status == "exception":
            code = codes[rng.choice(CODES)]
            exceptions.append(
                BusinessException(
                    code=code,
                    team_id=code.owning_team_id,
                    severity=code.severity,
                    transaction=tx,
                    summary=f"{code.code} (seeded)",
                    supplier=rng.choice(SUPPLIERS) if rng.random() < 0.8 else "",
                    facility=rng.choice(FACILITIES) if rng.random() < 0.8 else "",
                    opened_at=tx.received_at,
                    last_seen_at=tx.received_at,
                    due_at=tx.received_at + datetime.timedelta(days=1),
                )
            )
        if tx.direction == "in" and rng.random() < 0.05:
            events.append(
                TransactionEvent(
                    transaction=tx,
                    kind="duplicate_suppressed",
                    at=tx.received_at + datetime.timedelta(minutes=rng.uniform(1, 50)),
                )
            )
    BusinessException.objects.bulk_create(exceptions)
    TransactionEvent.objects.bulk_create([e for e in events if e.at <= now])
    touched = {e.transaction_id for e in exceptions}
    for tx in rng.sample([t for t in txs if t.direction == "in"], 120):
        decided = tx.received_at + datetime.timedelta(seconds=5)
        if decided > now:
            continue
        if tx.pk in touched:
            make_invoice(supplier, tx, status="exception", updated_at=decided)
        else:
            make_invoice(supplier, tx, status="matched", matched_at=decided)
    for tx in [t for t in txs if t.completed_at is None][:12]:
        make_work(
            tx,
            stage=rng.choice(["process", "deliver"]),
            available_at=now + datetime.timedelta(seconds=rng.choice([-30, -5, 60, 240])),
        )
    return txs
