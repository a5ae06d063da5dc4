"""Procure-to-pay benchmark: 10,000 X12 810 invoices from file pickup to AP voucher posted.

    .venv/bin/python bench/invoices_810.py [--invoices 10000] [--sets-per-file 100] ...

What it does, on this machine, in one run (see bench/README.md):

1. Creates its own database (the name must contain "bench"), migrates, and seeds what matching
   needs: a legal entity, hospital, cost center, suppliers that trade by EDI (X12 cross-
   reference ``ZZ:<ISA id>``, a trading partner wanting 997s, an outbound SFTP connector for
   them), items with ERP codes, and one purchase order per invoice, received in full (PO lines
   and receipts written with COPY). Connectors: a local-folder pickup of X12 interchanges
   routed to the ``erp-vouchers`` REST target, which points at the sandbox ERP.
2. Writes one 810 per PO, invoicing it exactly, into X12 files (``--sets-per-file`` sets in
   ``--groups-per-file`` functional groups each) in a staging folder, then renames them all
   into the pickup folder at once and notes the time.
3. Runs the real processes: the sandbox ERP and the sandbox SFTP server, one
   ``celery worker -c 2`` for every queue and ``celery beat`` (pickup every second), and waits
   until every voucher is posted.
4. Measures from the database: invoices per second from release to the last voucher posted,
   per-invoice latency (voucher delivered minus interchange received, and minus release),
   pickup time; checks every invoice was vouchered once, the ERP holds each voucher once,
   every functional group got its 997 and no exception is open. A broken flow fails the run.
5. Prints the figures and replaces its section of docs/benchmarks.md (``--no-docs``: not).

Everything it starts runs in its own process group and is stopped on the way out, whatever
happens. It drops its database at the end (``--keep`` keeps it and the files) and flushes the
Redis database in REDIS_URL before and after. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import math
import os
import platform
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import psycopg
import redis
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import (  # noqa: E402 (needs ROOT on path)
    DOCS,
    TICK,
    BenchError,
    Children,
    close_and_drop,
    database_name,
    fmt_s,
    free_port,
    machine_busy,
    recreate_database,
    say,
    use_environment,
    wait_http,
    wait_log,
    write_docs_section,
)

BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/hubconsole_bench_810"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
SECTION = "## Procure-to-pay: 810 invoices from file pickup to AP voucher"
SFTP_PASSWORD_ENV = "HUBCONSOLE_SECRET_BENCH_SFTP_PASSWORD"
SFTP_PASSWORD = "bench-sftp-" + "p" * 24
SFTP_USER = "bench"
OUR_ISA = "HUBCONSOLE"
INTERCHANGE = "x12.interchange"
INVOICE = "p2p.invoice"
VOUCHER = "p2p.ap_voucher.erp"
ACK = "x12.acknowledgment.out"
ON = dt.date(2000, 1, 1)  # master data valid since then


# --- CPU accounting (from /proc) ----------------------------------------------------------------

OTHERS = "others"
PG_WORKERS, PG_SANDBOX, PG_REST = "PostgreSQL: workers", "PostgreSQL: sandbox", "PostgreSQL: rest"
ROLE_ORDER = (
    "workers", "beat", "sandbox", "sftp", "bench", PG_WORKERS, PG_SANDBOX, PG_REST, "Redis", OTHERS,
)  # fmt: skip
# Children's application_name (settings: hubconsole-<HUBCONSOLE_PROCESS>) tells their
# PostgreSQL backends apart; this script's own connections say "bench-810".
WORKER_PROCESS = "worker"
PG_ROLES = {f"hubconsole-{WORKER_PROCESS}": PG_WORKERS, "hubconsole-sandbox": PG_SANDBOX}
BENCH_APP = "bench-810"


class CpuMeter(threading.Thread):
    """Samples every process's CPU time twice a second and files it under a role: a process
    group the benchmark started, the benchmark itself, PostgreSQL backends of this database by
    client (the workers', the sandbox ERP's; the rest with the server's own processes), Redis,
    or others (other users of this shared machine)."""

    def __init__(self, children: Children, database_url: str):
        super().__init__(daemon=True)
        self.children = children
        self.database = database_name(database_url)
        self.lock = threading.Lock()
        self.scanning = threading.Lock()
        self.seen: dict[tuple[int, int], tuple[str, float]] = {}
        self.roles: dict[tuple[int, int], str] = {}
        self.halt = threading.Event()
        self.activity = psycopg.connect(
            database_url, autocommit=True, application_name=f"{BENCH_APP}-meter"
        )
        self.scan()

    def _backend_role(self, pid: int) -> str | None:
        """The role of a backend of this database, by its client's application_name; None
        while the backend is not in pg_stat_activity yet (asked again next scan)."""
        row = self.activity.execute(
            "SELECT application_name FROM pg_stat_activity WHERE pid = %s", [pid]
        ).fetchone()
        if row is None:
            return None
        if row[0].startswith(BENCH_APP):
            return "bench"
        return PG_ROLES.get(row[0], PG_REST)

    def _role(self, pid: int, comm: bytes, pgrp: int) -> str | None:
        if pid == os.getpid():
            return "bench"
        for name, child in list(self.children.running.items()):
            if child.pgid == pgrp:
                return name
        if comm == b"postgres":
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                return OTHERS
            if f" {self.database} ".encode() in cmdline:
                return self._backend_role(pid)
            if re.search(rb" \S+ \S+ [0-9a-f.:\[\]]+\(\d+\)", cmdline) or b"[local]" in cmdline:
                return OTHERS  # a backend of another database
            return PG_REST  # the server's own processes (writer, checkpointer, WAL...)
        if comm.startswith(b"redis-server"):
            return "Redis"
        return OTHERS

    def scan(self) -> None:
        with self.scanning:  # from the meter's thread and from sample()
            self._scan()

    def _scan(self) -> None:
        found = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as handle:
                    raw = handle.read()
            except OSError:
                continue
            comm = raw[raw.find(b"(") + 1 : raw.rfind(b")")]
            fields = raw[raw.rfind(b")") + 2 :].split()
            key = (int(entry.name), int(fields[19]))
            role = self.roles.get(key)
            if role is None:
                role = self._role(key[0], comm, int(fields[2]))
                if role is None:
                    continue  # a backend not registered yet: its CPU is counted next scan
                self.roles[key] = role
            found[key] = (role, (int(fields[11]) + int(fields[12])) / TICK)
        with self.lock:
            self.seen.update(found)

    def run(self) -> None:
        while not self.halt.wait(0.5):
            self.scan()

    def sample(self) -> tuple[float, float, dict]:
        self.scan()
        with self.lock:
            return time.monotonic(), machine_busy(), dict(self.seen)


def cpu_split(before: tuple, after: tuple) -> dict[str, float]:
    """Average cores used per role between two samples, plus the machine's busy cores."""
    (t0, busy0, seen0), (t1, busy1, seen1) = before, after
    wall = max(t1 - t0, 1e-6)
    split = dict.fromkeys(ROLE_ORDER, 0.0)
    for key, (role, cpu) in seen1.items():
        split[role] = split.get(role, 0.0) + (cpu - seen0.get(key, (role, 0.0))[1]) / wall
    busy = (busy1 - busy0) / wall
    # CPU of processes that ended between two scans, and of the kernel, is in no role.
    split[OTHERS] = max(0.0, busy - sum(v for k, v in split.items() if k != OTHERS))
    split["machine busy"] = busy
    return split


# --- Database -----------------------------------------------------------------------------------


def prepare_environment() -> dict:
    """Settings come from the environment when Django starts (here and in the children)."""
    env = {
        "DATABASE_URL": os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        "REDIS_URL": os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL,
        "HUBCONSOLE_MODE": "test",
        "HUBCONSOLE_SANDBOX_ENABLED": "true",
        "HUBCONSOLE_PICKUP_SECONDS": "1",
        "PYTHONUNBUFFERED": "1",
        SFTP_PASSWORD_ENV: SFTP_PASSWORD,
    }
    use_environment(env)
    return {**os.environ}


def machine_facts(conn) -> dict:
    meminfo = Path("/proc/meminfo").read_text()
    kib = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    server = {
        name: conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()[0]
        for name in ("autovacuum", "synchronous_commit", "shared_buffers")
    }
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "ram": f"{kib / 1024 / 1024:.1f} GiB",
        "cpu": cpu.group(1).strip() if cpu else platform.processor(),
        "postgres": conn.execute("SHOW server_version").fetchone()[0],
        "server": server,
        "python": platform.python_version(),
        "commit": (commit or "?") + (" with uncommitted changes" if dirty else ""),
    }


# --- The buying network -------------------------------------------------------------------------

SUPPLIERS = (
    # key, name, ISA id, ERP vendor id
    ("medline", "Medline Industries LP", "MEDLINEEDI", "V100041"),
    ("cardinal", "Cardinal Health 200 LLC", "CARDINALEDI", "V100077"),
    ("owens", "Owens and Minor Distribution Inc", "OWENSMINOREDI", "V100112"),
    ("schein", "Henry Schein Medical", "HSCHEINEDI", "V100230"),
)
ITEM_KINDS = (
    ("Nitrile exam gloves, powder-free, size M", "BX", "6.85"),
    ("Surgical gown, AAMI level 3, XL, sterile", "CS", "142.50"),
    ("IV administration set, 15 drops per mL", "CS", "96.20"),
    ("Syringe 10 mL Luer-Lok, sterile", "BX", "18.40"),
    ("Foley catheter 16 Fr, 5 mL balloon, silicone", "EA", "9.75"),
    ("Chlorhexidine 2% prep applicator, 26 mL", "CS", "88.00"),
    ("Suture, polyglactin 910, 3-0, SH needle", "BX", "121.30"),
    ("Sterile drape, laparoscopy, with pouches", "CS", "210.00"),
    ("Blood pressure cuff, adult, single patient use", "BX", "45.60"),
    ("Wound dressing, foam, 4 x 4 in", "BX", "32.15"),
)


@dataclass(frozen=True)
class ItemSpec:
    pk: int
    code: str
    erp_code: str
    vendor_part: str
    name: str
    unit: str
    price: Decimal


@dataclass(frozen=True)
class LineSpec:
    number: str
    item: ItemSpec
    quantity: int

    @property
    def amount(self) -> Decimal:
        return self.item.price * self.quantity


@dataclass(frozen=True)
class OrderSpec:
    index: int
    po_number: str
    supplier: int  # index into SUPPLIERS
    lines: tuple[LineSpec, ...]

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    @property
    def invoice_number(self) -> str:
        return f"INV-{self.index + 1:07d}"


@dataclass
class Seeded:
    pickup_id: int = 0
    orders: list[OrderSpec] = field(default_factory=list)
    facility: tuple[str, str] = ("", "")
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _copy(model, rows: list[dict]) -> int:
    """COPY ``rows`` (dicts by attribute name, ids included) into ``model``'s table; every
    column the database requires must be given (Django's defaults are not database defaults)."""
    from django.db import connection

    fields = {f.attname: f for f in model._meta.concrete_fields}
    names = list(rows[0])
    missing = [
        name
        for name, f in fields.items()
        if name not in names and not f.null and not f.has_default() and not f.generated
    ]
    if missing:
        raise BenchError(f"seeding {model.__name__}: no value for {missing}")
    table = model._meta.db_table
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(fields[n].column) for n in names)
    )
    with connection.cursor() as cursor:
        with cursor.cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([row[name] for name in names])
        cursor.execute(
            sql.SQL("SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT max(id) FROM {}))")
            .format(sql.Identifier(table))
            .as_string(cursor.cursor),
            [table],
        )
    return len(rows)


def seed(args, *, pickup: Path, sandbox_url: str, sftp_port: int, sftp_key: str) -> Seeded:
    """Master data, connectors, trading partners and the received purchase orders."""
    from django.contrib.auth.models import User
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection, transaction
    from django.utils import timezone

    from apps.connectors.choices import ConnectorKindChoices as Kind
    from apps.connectors.choices import MessageFormatChoices
    from apps.connectors.models import Connector
    from apps.edi.models import TradingPartner
    from apps.masterdata import models as md
    from apps.masterdata.choices import FacilityKindChoices
    from apps.masterdata.services.records import normalized_name
    from apps.p2p.models import PurchaseOrder, PurchaseOrderLine, Receipt, ReceiptLine
    from apps.pipeline.models import Transaction

    started = time.monotonic()
    rng = random.Random(args.seed)
    result = Seeded()
    now = timezone.now()
    today = dt.date.today()
    with transaction.atomic():
        steward = User.objects.create(username="bench-steward")
        checker = User.objects.create(username="bench-checker")
        erp = md.ExternalSystem.objects.create(code="ERP", name="ERP")
        x12 = md.ExternalSystem.objects.create(code="X12", name="X12 trading partners")
        each = md.UnitOfMeasure.objects.create(code="EA", name="Each")
        md.UnitOfMeasure.objects.bulk_create(
            [md.UnitOfMeasure(code="BX", name="Box"), md.UnitOfMeasure(code="CS", name="Case")]
        )
        entity = md.LegalEntity.objects.create(code="LE-BENCH", name="Cascade Health Partners")
        hospital = md.Facility.objects.create(
            code="HOSP-BENCH",
            name="St. Mary Regional Medical Center",
            kind=FacilityKindChoices.HOSPITAL,
            legal_entity=entity,
        )
        result.facility = (hospital.code, hospital.name)
        center = md.CostCenter.objects.create(
            code="CC-BENCH-MM",
            name="Materials management",
            legal_entity=entity,
            facility=hospital,
        )
        suppliers = md.Supplier.objects.bulk_create(
            [
                md.Supplier(
                    code=f"SUP-{key.upper()}", name=name, normalized_name=normalized_name(name)
                )
                for key, name, _, _ in SUPPLIERS
            ]
        )
        md.SupplierEnablement.objects.bulk_create(
            [md.SupplierEnablement(supplier=s, legal_entity=entity) for s in suppliers]
        )
        items = md.Item.objects.bulk_create(
            [
                md.Item(
                    code=f"ITM-B{n:05d}", name=ITEM_KINDS[n % len(ITEM_KINDS)][0], stocking_uom=each
                )
                for n in range(args.items)
            ]
        )
        specs = []
        for n, item in enumerate(items):
            name, unit, base = ITEM_KINDS[n % len(ITEM_KINDS)]
            price = (Decimal(base) * Decimal(rng.randint(90, 110)) / 100).quantize(Decimal("0.01"))
            specs.append(
                ItemSpec(item.pk, item.code, f"E-{n:05d}", f"VP-{n:05d}", name, unit, price)
            )

        types = {
            model: ContentType.objects.get_for_model(model)
            for model in (md.LegalEntity, md.Supplier, md.Item)
        }

        def xref(system, entity_type: str, code: str, target) -> md.CrossReference:
            return md.CrossReference(
                external_system=system,
                entity_type=entity_type,
                external_code=code,
                content_type=types[type(target)],
                object_id=target.pk,
                effective_from=ON,
                status="approved",
                note="bench",
                created_by=steward,
                decided_by=checker,
                decided_at=now,
                decision_reason="bench: loaded as approved",
            )

        xrefs = [xref(erp, "legal_entity", "1000", entity)]
        for supplier, (_, _, isa_id, vendor) in zip(suppliers, SUPPLIERS, strict=True):
            xrefs.append(xref(erp, "supplier", vendor, supplier))
            xrefs.append(xref(x12, "supplier", f"ZZ:{isa_id}", supplier))
        xrefs += [
            xref(erp, "item", spec.erp_code, item) for spec, item in zip(specs, items, strict=True)
        ]
        md.CrossReference.objects.bulk_create(xrefs, batch_size=2000)

        # Connectors: the pickup, the ERP's voucher resource, and each partner's SFTP folder.
        fast = {"backoff_base_seconds": 0.5, "backoff_cap_seconds": 5.0, "max_attempts": 10}
        Connector.objects.create(
            slug="erp-vouchers",
            name="ERP AP vouchers (sandbox)",
            kind=Kind.REST_OUT,
            settings={"url": f"{sandbox_url}/erp/ap-vouchers"},
            rate_limit_per_second=None,
            timeout_seconds=10.0,
            breaker_threshold=1_000_000,
            **fast,
        )
        server = {
            "host": HOST,
            "port": sftp_port,
            "username": SFTP_USER,
            "password_env": SFTP_PASSWORD_ENV,
            "host_key": sftp_key,
        }
        for key, name, isa_id, _ in SUPPLIERS[: args.suppliers]:
            outbound = Connector.objects.create(
                slug=f"{key}-edi-out",
                name=f"{name} EDI out (sandbox SFTP)",
                kind=Kind.SFTP_OUT,
                settings={**server, "path": f"/{key}/in"},
                breaker_threshold=1_000_000,
                **fast,
            )
            TradingPartner.objects.create(
                name=name,
                isa_qualifier="ZZ",
                isa_id=isa_id,
                our_isa_id=OUR_ISA,
                acknowledgment="997",
                outbound=outbound,
            )
        pickup_connector = Connector.objects.create(
            slug="supplier-810-pickup",
            name="Supplier invoices (X12 file pickup)",
            kind=Kind.FILE_IN,
            format=MessageFormatChoices.X12,
            document_type=INTERCHANGE,
            settings={
                "path": str(pickup),
                "pattern": "*.x12",
                "min_age_seconds": 0,
                "erp_vouchers": "erp-vouchers",
            },
            poll_interval_seconds=1,
        )
        result.pickup_id = pickup_connector.pk
        # Orders and receipts need a source transaction: one seed record stands for the
        # procurement and inventory messages they came from.
        seed_connector = Connector.objects.create(
            slug="bench-seed",
            name="Bench seed (disabled)",
            kind=Kind.WEBHOOK_IN,
            settings={"secret_env": "HUBCONSOLE_SECRET_BENCH_SEED"},
            enabled=False,
        )
        origin = Transaction.objects.create(
            connector=seed_connector,
            direction="in",
            format="json",
            document_type="bench.seed",
            status="completed",
            idempotency_key="bench:seed",
            content_sha256="0" * 64,
            raw=b"{}",
            raw_size=2,
            correlation_id="bench-seed",
            received_at=now,
            completed_at=now,
            updated_at=now,
        )

        # One received PO per invoice; a file's orders all belong to the supplier that sends it.
        orders, po_rows, line_rows, receipt_rows, receipt_line_rows = [], [], [], [], []
        line_id = 0
        for index in range(args.invoices):
            supplier = (index // args.sets_per_file) % args.suppliers
            chosen = rng.sample(specs, rng.randint(1, args.max_lines))
            lines = tuple(
                LineSpec(str(n), item, rng.randint(1, 40)) for n, item in enumerate(chosen, 1)
            )
            order = OrderSpec(index, f"PO-B810-{index + 1:07d}", supplier, lines)
            orders.append(order)
            pk = index + 1
            po_rows.append(
                {
                    "id": pk,
                    "po_number": order.po_number,
                    "revision": 1,
                    "status": "received",
                    "supplier_id": suppliers[supplier].pk,
                    "legal_entity_id": entity.pk,
                    "facility_id": hospital.pk,
                    "cost_center_id": center.pk,
                    "currency": "USD",
                    "po_date": today - dt.timedelta(days=14),
                    "total_amount": order.total,
                    "requisition_number": "",
                    "erp_reference": f"ERP-PO-{pk:06d}",
                    "ack_status": "accepted",
                    "source_transaction_id": origin.pk,
                    "correlation_id": f"bench-po-{pk}",
                    "created_at": now,
                    "updated_at": now,
                }
            )
            receipt_rows.append(
                {
                    "id": pk,
                    "receipt_id": f"GR-B810-{pk:07d}",
                    "purchase_order_id": pk,
                    "received_date": today - dt.timedelta(days=3),
                    "source_transaction_id": origin.pk,
                    "created_at": now,
                }
            )
            for line in lines:
                line_id += 1
                line_rows.append(
                    {
                        "id": line_id,
                        "purchase_order_id": pk,
                        "line_number": line.number,
                        "item_id": line.item.pk,
                        "vendor_part": line.item.vendor_part,
                        "gtin": "",
                        "description": line.item.name,
                        "unit": line.item.unit,
                        "quantity": line.quantity,
                        "unit_price": line.item.price,
                        "acknowledged_quantity": line.quantity,
                        "acknowledged_price": line.item.price,
                        "ack_status": "accepted",
                        "shipped_quantity": line.quantity,
                        "received_quantity": line.quantity,
                        "invoiced_quantity": 0,
                        "invoiced_amount": 0,
                    }
                )
                receipt_line_rows.append(
                    {
                        "id": line_id,
                        "receipt_id": pk,
                        "po_line_id": line_id,
                        "quantity": line.quantity,
                        "lot": "",
                        "serial": "",
                        "expiry": None,
                    }
                )
        result.orders = orders
        result.rows = {
            "purchase orders": _copy(PurchaseOrder, po_rows),
            "PO lines": _copy(PurchaseOrderLine, line_rows),
            "receipts": _copy(Receipt, receipt_rows),
            "receipt lines": _copy(ReceiptLine, receipt_line_rows),
            "items": len(items),
            "cross-references": len(xrefs),
        }
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    result.seconds = time.monotonic() - started
    return result


# --- The 810 files ------------------------------------------------------------------------------


@dataclass(frozen=True)
class InterchangeFile:
    name: str
    isa_id: str
    control: str  # ISA13
    groups: tuple[str, ...]  # GS06 of each functional group
    sets: int
    text: str


def _invoice_set(control: str, order: OrderSpec, invoice_date: dt.date, facility) -> list:
    from apps.edi.x12 import transaction_set
    from apps.edi.x12.writer import implied

    _, name, isa_id, _ = SUPPLIERS[order.supplier]
    body: list = [
        [
            "BIG",
            invoice_date.strftime("%Y%m%d"),
            order.invoice_number,
            (invoice_date - dt.timedelta(days=14)).strftime("%Y%m%d"),
            order.po_number,
        ],
        ["CUR", "SE", "USD"],
        ["N1", "SE", name, "91", isa_id],
        ["N1", "ST", facility[1], "92", facility[0]],
        ["ITD", "01", "3", "", "", "", "", "30"],
    ]
    for line in order.lines:
        body.append(
            [
                "IT1",
                line.number,
                str(line.quantity),
                line.item.unit,
                f"{line.item.price:.2f}",
                "",
                "VP",
                line.item.vendor_part,
                "BP",
                line.item.code,
            ]
        )
        body.append(["PID", "F", "", "", "", line.item.name])
    body.append(["TDS", implied(order.total)])
    body.append(["CTT", str(len(order.lines))])
    return transaction_set("810", control, body)


def interchange_files(args, seeded: Seeded, invoice_date: dt.date) -> list[InterchangeFile]:
    """One file per ``--sets-per-file`` orders, from the orders' supplier, split into
    ``--groups-per-file`` functional groups (IN), written with the product's X12 writer."""
    from apps.edi.x12 import OutboundEnvelope, Separators, write_interchange, write_segments

    separators = Separators(repetition="")  # version 00401 has no repetition separator
    files = []
    sent = dt.datetime.now(dt.UTC)
    for number, start in enumerate(range(0, len(seeded.orders), args.sets_per_file), 1):
        orders = seeded.orders[start : start + args.sets_per_file]
        key, _, isa_id, _ = SUPPLIERS[orders[0].supplier]
        count = min(args.groups_per_file, len(orders))
        size = math.ceil(len(orders) / count)
        chunks = [orders[i : i + size] for i in range(0, len(orders), size)]
        envelope = OutboundEnvelope(
            sender_id=isa_id,
            receiver_id=OUR_ISA,
            interchange_control=str(number),
            group_control="1",
            functional_id="IN",
            version="004010",
            now=sent,
        )
        groups = []
        for chunk in chunks:
            groups.append(
                [
                    _invoice_set(f"{s:04d}", order, invoice_date, seeded.facility)
                    for s, order in enumerate(chunk, 1)
                ]
            )
        text = write_interchange(envelope, groups[0])
        text = text[: text.rindex("IEA*")]  # more groups follow before the IEA
        for g, sets in enumerate(groups[1:], 2):
            gs = [
                "GS",
                "IN",
                isa_id,
                OUR_ISA,
                sent.strftime("%Y%m%d"),
                sent.strftime("%H%M"),
                str(g),
                "X",
                "004010",
            ]
            segments = [
                gs,
                *(segment for tx in sets for segment in tx),
                ["GE", str(len(sets)), str(g)],
            ]
            text += write_segments(segments, separators)
        text += write_segments([["IEA", str(len(groups)), f"{number:09d}"]], separators)
        files.append(
            InterchangeFile(
                name=f"810_{key}_{number:09d}.x12",
                isa_id=isa_id,
                control=f"{number:09d}",
                groups=tuple(str(g) for g in range(1, len(groups) + 1)),
                sets=len(orders),
                text=text,
            )
        )
    return files


def check_files(files: list[InterchangeFile]) -> None:
    """Read every file back with the product's reader: the input must be valid X12 810s."""
    from apps.edi.x12 import map_interchange, read_interchange

    for file in files:
        parsed = read_interchange(file.text)
        map_interchange(parsed)
        problems = [g.error for g in parsed.groups if g.error is not None]
        problems += [tx.error for tx in parsed.transaction_sets if tx.error is not None]
        if problems or len(parsed.transaction_sets) != file.sets:
            raise BenchError(f"{file.name} does not read back cleanly: {problems[:3]}")


# --- Running the flow ---------------------------------------------------------------------------


def start_processes(args, children: Children, run_dir: Path, sandbox_port: int, sftp_port: int):
    sandbox = children.start(
        "sandbox",
        [
            str(BIN / "gunicorn"),
            "hubconsole.sandbox_wsgi:application",
            "-b",
            f"{HOST}:{sandbox_port}",
            "-w",
            str(args.sandbox_workers),
            "--threads",
            "4",
            "--worker-class",
            "gthread",
            "--keep-alive",
            "30",
        ],
    )
    sftp = children.start(
        "sftp",
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "sandbox_sftp",
            "--host",
            HOST,
            "--port",
            str(sftp_port),
            "--root",
            str(run_dir / "sftp"),
            "--username",
            SFTP_USER,
            "--password-env",
            SFTP_PASSWORD_ENV,
        ],
    )
    workers = children.start(
        "workers",
        [
            str(BIN / "celery"),
            "-A",
            "hubconsole",
            "worker",
            "-Q",
            "processing,delivery,connectors,maintenance",
            "-c",
            str(args.concurrency),
            "-n",
            f"bench810-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "INFO",
        ],
        HUBCONSOLE_PROCESS=WORKER_PROCESS,  # only names its database connections
    )
    children.start(
        "beat",
        [
            str(BIN / "celery"),
            "-A",
            "hubconsole",
            "beat",
            "-s",
            str(run_dir / "beat-schedule"),
            "-l",
            "INFO",
        ],
        HUBCONSOLE_PROCESS=WORKER_PROCESS,
    )
    wait_http(f"http://{HOST}:{sandbox_port}/healthz", sandbox)
    wait_log(sftp, r"sandbox SFTP listening")
    wait_log(workers, r"ready\.")


def _progress(conn, seeded: Seeded) -> dict:
    """Cheap counters (small tables only) to follow the run and see when it is done."""
    work = dict(conn.execute("SELECT stage, count(*) FROM pipeline_workitem GROUP BY 1").fetchall())
    vouchers = dict(
        conn.execute("SELECT status, count(*) FROM p2p_apvoucher GROUP BY 1").fetchall()
    )
    runs = conn.execute(
        "SELECT count(*), coalesce(sum(accepted), 0), coalesce(sum(duplicates), 0), "
        "coalesce(sum(rejected), 0), string_agg(NULLIF(error, ''), '; ') "
        "FROM connectors_connectorrun WHERE connector_id = %s",
        [seeded.pickup_id],
    ).fetchone()
    open_exceptions = conn.execute(
        "SELECT count(*) FROM exceptions_businessexception WHERE status IN ('open', 'in_progress')"
    ).fetchone()[0]
    conn.commit()
    return {
        "process": work.get("process", 0),
        "deliver": work.get("deliver", 0),
        "queued": vouchers.get("queued", 0),
        "posted": vouchers.get("posted", 0),
        "runs": runs[0],
        "accepted": runs[1],
        "duplicates": runs[2],
        "rejected": runs[3],
        "pickup_errors": runs[4] or "",
        "exceptions": open_exceptions,
    }


def _diagnose(conn) -> str:
    rows = conn.execute(
        "SELECT document_type, direction, status, count(*), max(last_error_code), "
        "max(left(last_error, 200)) FROM pipeline_transaction GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    ).fetchall()
    lines = [f"  {t} {d} {s}: {n}" + (f" ({c}: {e})" if c else "") for t, d, s, n, c, e in rows]
    exceptions = conn.execute(
        "SELECT code_id, count(*), max(left(summary, 200)) FROM exceptions_businessexception "
        "WHERE status IN ('open', 'in_progress') GROUP BY 1 ORDER BY 2 DESC LIMIT 10"
    ).fetchall()
    lines += [f"  open exception {code} x{n}: {summary}" for code, n, summary in exceptions]
    conn.commit()
    return "\n".join(lines)


def wait_done(args, conn, children: Children, seeded: Seeded, files: int) -> dict:
    """Until every voucher is posted and no work is left; fails on an open exception, a
    rejected file, a stall (nothing pending, vouchers missing) or the time limit."""
    expected = len(seeded.orders)
    deadline = time.monotonic() + args.timeout
    last_report = stalled_since = 0.0
    while True:
        children.check()
        state = _progress(conn, seeded)
        pending = state["process"] + state["deliver"]
        if state["exceptions"]:
            raise BenchError(
                f"{state['exceptions']} exception(s) opened: the flow is broken\n" + _diagnose(conn)
            )
        if state["rejected"] or state["duplicates"] or state["pickup_errors"]:
            raise BenchError(f"the pickup did not take every file cleanly: {state}")
        if state["posted"] >= expected and state["accepted"] >= files and pending == 0:
            return state
        if time.monotonic() - last_report > 5:
            say(
                f"   files picked up {state['accepted']}/{files}; work items: process "
                f"{state['process']:,}, deliver {state['deliver']:,}; vouchers queued "
                f"{state['queued']:,}, posted {state['posted']:,}/{expected:,}"
            )
            last_report = time.monotonic()
        if state["accepted"] >= files and pending == 0:
            stalled_since = stalled_since or time.monotonic()
            if time.monotonic() - stalled_since > 15:
                raise BenchError(
                    f"nothing left to do but only {state['posted']:,} of {expected:,} vouchers "
                    "posted:\n" + _diagnose(conn)
                )
        else:
            stalled_since = 0.0
        if time.monotonic() > deadline:
            raise BenchError(
                f"not done within {args.timeout:g} s ({state['posted']:,} of {expected:,} "
                "vouchers posted):\n" + _diagnose(conn)
            )
        time.sleep(0.5)


# --- Measuring and checking ---------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def spread(values: list[float]) -> dict:
    return {
        "p50": percentile(values, 0.50),
        "p95": percentile(values, 0.95),
        "p99": percentile(values, 0.99),
        "max": max(values, default=math.nan),
    }


def _steady_rate(times: list[float]) -> float:
    if len(times) < 10:
        return math.nan
    first, last = times[len(times) // 10], times[(9 * len(times)) // 10]
    count = (9 * len(times)) // 10 - len(times) // 10
    return count / (last - first) if last > first else math.nan


def sandbox_duplicate_check(conn) -> dict:
    """What the sandbox ERP's duplicate-invoice check (``apps/sandbox/erp.py::_duplicate``,
    a JSON filter on its vouchers) costs on the table this run left: part of the PostgreSQL
    CPU below is the sandbox's, not the product's."""
    row = conn.execute(
        "SELECT body->>'supplier', body->>'invoice_number' FROM sandbox_sandboxerpdocument "
        "WHERE kind = 'ap_voucher' ORDER BY id DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return {"ms": math.nan, "scan": "", "rows": 0}
    rows = conn.execute(
        "SELECT count(*) FROM sandbox_sandboxerpdocument WHERE kind = 'ap_voucher'"
    ).fetchone()[0]
    times, scan = [], ""
    for _ in range(5):
        plan = conn.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) SELECT 1 FROM sandbox_sandboxerpdocument "
            "WHERE kind = 'ap_voucher' AND (body -> 'supplier') = to_jsonb(%s::text) "
            "AND (body -> 'invoice_number') = to_jsonb(%s::text) "
            "AND (body -> 'kind') = to_jsonb('invoice'::text) LIMIT 1",
            [row[0], row[1] + "-NEW"],  # as before a posting: the number is not there yet
        ).fetchone()[0][0]
        times.append(plan["Execution Time"])
        nodes, scan = [plan["Plan"]], ""
        while nodes:  # the node that reads the table, and how many rows it filtered out
            node = nodes.pop()
            nodes += node.get("Plans", [])
            if node.get("Relation Name") == "sandbox_sandboxerpdocument":
                removed = node.get("Rows Removed by Filter", 0)
                scan = f"{node['Node Type']}, {removed:,} rows read and filtered out"
    conn.commit()
    return {"ms": sorted(times)[2], "scan": scan, "rows": rows}


def measure(conn, seeded: Seeded, files: list[InterchangeFile], released: float) -> dict:
    """Figures from the database. Rows are fetched by key and joined here (the statistics of a
    table written this fast are stale; a join planned on them can take minutes)."""
    inter = conn.execute(
        "SELECT id, received_at, completed_at, status, metadata->>'filename' "
        "FROM pipeline_transaction WHERE connector_id = %s AND parent_id IS NULL "
        "AND direction = 'in'",
        [seeded.pickup_id],
    ).fetchall()
    inter_ids = [row[0] for row in inter]
    kids = conn.execute(
        "SELECT id, parent_id, received_at, completed_at, status, document_type, document_id "
        "FROM pipeline_transaction WHERE parent_id = ANY(%s) AND direction = 'in'",
        [inter_ids],
    ).fetchall()
    out_of_inter = conn.execute(
        "SELECT id, parent_id, document_type, document_id, status, completed_at, attempts "
        "FROM pipeline_transaction WHERE parent_id = ANY(%s) AND direction = 'out'",
        [inter_ids],
    ).fetchall()
    vouchers = conn.execute(
        "SELECT id, parent_id, document_type, document_id, status, received_at, completed_at, "
        "attempts FROM pipeline_transaction WHERE parent_id = ANY(%s) AND direction = 'out'",
        [[row[0] for row in kids]],
    ).fetchall()
    sends = conn.execute(
        "SELECT (detail->>'duration_ms')::float FROM pipeline_transactionevent "
        "WHERE transaction_id = ANY(%s) AND kind = 'delivered'",
        [[v[0] for v in vouchers]],
    ).fetchall()
    conn.commit()
    epoch = dt.datetime.fromtimestamp(released, dt.UTC)
    received = {row[0]: row[1] for row in inter}
    kid = {row[0]: row for row in kids}

    def since(moment: dt.datetime, start: dt.datetime = epoch) -> float:
        return (moment - start).total_seconds()

    done = [v for v in vouchers if v[4] == "completed"]
    from_received = [since(v[6], received[kid[v[1]][1]]) for v in done]
    from_release = [since(v[6]) for v in done]
    split = [since(k[2], received[k[1]]) for k in kids]  # interchange received -> child stored
    processed = [since(k[3], k[2]) for k in kids if k[3]]  # child stored -> matched, queued
    delivered = [since(v[6], v[5]) for v in done]  # voucher queued -> posted
    last = max((v[6] for v in done), default=epoch)
    acks = [row for row in out_of_inter if row[2] == ACK]
    return {
        "interchanges": len(inter),
        "interchange_status": Counter(row[3] for row in inter),
        "children": len(kids),
        "child_status": Counter(row[4] for row in kids),
        "child_types": Counter(row[5] for row in kids),
        "vouchers": len(vouchers),
        "voucher_status": Counter(v[4] for v in vouchers),
        "voucher_types": Counter(v[2] for v in vouchers),
        "voucher_ids": len({v[3] for v in vouchers}),
        "voucher_retries": sum(1 for v in vouchers if v[7] > 1),
        "acks": {(row[3], row[4]) for row in acks},
        "ack_retries": sum(1 for row in acks if row[6] > 1),
        "other_outbound": Counter(row[2] for row in out_of_inter if row[2] != ACK),
        "first_pickup": min((since(row[1]) for row in inter), default=math.nan),
        "last_pickup": max((since(row[1]) for row in inter), default=math.nan),
        "last_split": max((since(row[2]) for row in inter if row[2]), default=math.nan),
        "span": since(last),
        "first_voucher": min(from_release, default=math.nan),
        "rate": len(done) / since(last) if done else math.nan,
        # Between the 10th and the 90th percentile of posting times: the rate once the burst
        # is under way, without the start (pickup, split) and the tail.
        "steady_rate": _steady_rate(sorted(from_release)),
        "latency": spread(from_received),
        "latency_release": spread(from_release),
        "split": spread(split),
        "processed": spread(processed),
        "delivered": spread(delivered),
        "post_ms": spread([row[0] for row in sends if row[0] is not None]),
        # Rows finished in one commit share their completed_at (now() of that commit).
        "per_commit": {
            "interchanges split": len(inter) / max(1, len({row[2] for row in inter})),
            "invoices matched": len(kids) / max(1, len({k[3] for k in kids})),
            "vouchers posted": len(done) / max(1, len({v[6] for v in done})),
        },
    }


def verify(conn, seeded: Seeded, files: list[InterchangeFile], figures: dict, sftp_root: Path):
    """Every check that says the flow did the right thing, as (check, expected, found)."""
    n = len(seeded.orders)
    groups = sum(len(f.groups) for f in files)
    expected_acks = {f"997-{f.isa_id}-{f.control}-{g}" for f in files for g in f.groups}
    invoices = dict(conn.execute("SELECT status, count(*) FROM p2p_invoice GROUP BY 1").fetchall())
    voucher_rows = conn.execute(
        "SELECT count(*) FILTER (WHERE status = 'posted'), count(DISTINCT erp_reference) "
        "FILTER (WHERE erp_reference <> '') FROM p2p_apvoucher"
    ).fetchone()
    lines_off = conn.execute(
        "SELECT count(*) FROM p2p_purchaseorderline WHERE invoiced_quantity <> quantity"
    ).fetchone()[0]
    erp = conn.execute(
        "SELECT count(*), count(DISTINCT number), "
        "count(DISTINCT (body->>'supplier', body->>'invoice_number')), coalesce(sum(replays), 0),"
        " coalesce(sum((body->>'total_amount')::numeric), 0) "
        "FROM sandbox_sandboxerpdocument WHERE kind = 'ap_voucher'"
    ).fetchone()
    open_exceptions = conn.execute(
        "SELECT count(*) FROM exceptions_businessexception WHERE status IN ('open', 'in_progress')"
    ).fetchone()[0]
    conn.commit()
    ack_files = list(sftp_root.glob("*/in/*.x12"))
    accepted = sum(1 for p in ack_files if "ST*997*" in (t := p.read_text()) and "AK9*A*" in t)
    completed_acks = {doc for doc, status in figures["acks"] if status == "completed"}
    total = sum((o.total for o in seeded.orders), Decimal(0))
    return [
        (
            "interchanges stored and split (completed)",
            len(files),
            figures["interchange_status"].get("completed", 0),
        ),
        (
            "810 children completed (one per transaction set)",
            n,
            figures["child_status"].get("completed", 0)
            if figures["children"] == n
            else f"{figures['children']} children: {dict(figures['child_status'])}",
        ),
        ("invoices vouchered", n, invoices.get("vouchered", 0)),
        (
            "AP vouchers posted (ERP reference kept, distinct)",
            n,
            voucher_rows[0] if voucher_rows[0] == voucher_rows[1] else f"{voucher_rows}",
        ),
        (
            "voucher postings delivered (p2p.ap_voucher.erp, distinct)",
            n,
            figures["voucher_status"].get("completed", 0)
            if figures["voucher_ids"] == figures["vouchers"]
            else f"{figures['vouchers']} for {figures['voucher_ids']} ids",
        ),
        ("vouchers held by the sandbox ERP", n, erp[0]),
        ("... distinct voucher numbers / supplier invoices", f"{n} / {n}", f"{erp[1]} / {erp[2]}"),
        ("... total amount", f"{total:.2f}", f"{erp[4]:.2f}"),
        ("PO lines not invoiced exactly once", 0, lines_off),
        (
            "997s delivered, one per functional group",
            groups,
            len(completed_acks)
            if completed_acks == expected_acks
            else f"{len(completed_acks)} (differ: {sorted(completed_acks ^ expected_acks)[:3]})",
        ),
        ("997 files on the partners' SFTP, AK9 accepted", groups, accepted),
        ("open exceptions", 0, open_exceptions),
    ], {"erp_replays": erp[3], "groups": groups}


# --- Report -------------------------------------------------------------------------------------


def render(report: dict) -> str:
    m, f, a = report["machine"], report["figures"], report["args"]
    rate = f["rate"]
    lines = [
        SECTION,
        "",
        f"Measured {report['date']} by `bench/invoices_810.py` (how to run it: "
        f"`bench/README.md`), at commit `{m['commit']}`.",
        "",
        f"- Machine: {m['nproc']} cores ({m['cpu']}), {m['ram']} RAM, PostgreSQL {m['postgres']}"
        " (" + ", ".join(f"{k} {v}" for k, v in m["server"].items()) + f"), Python "
        f"{m['python']}. Everything below (workers, beat, sandbox ERP, SFTP server, PostgreSQL, "
        f"Redis, this script) shares these 2 cores, and the machine is shared with other users: "
        f"load average {report['load'][0]:.2f} before, {report['load'][1]:.2f} after.",
        f"- Command: `{report['command']}`",
        f"- Processes: one `celery -A hubconsole worker -c {a.concurrency} -Q "
        "processing,delivery,connectors,maintenance` (prefork) and `celery beat` with "
        "`HUBCONSOLE_PICKUP_SECONDS=1`; the sandbox ERP in `gunicorn "
        f"hubconsole.sandbox_wsgi:application -w {a.sandbox_workers} --threads 4`; the sandbox "
        "SFTP server (`manage.py sandbox_sftp`) receiving the 997s. Product settings as "
        "shipped (claim batch, drain time, linger).",
        f"- Data: {report['invoices']:,} X12 810 transaction sets, one per purchase order and "
        f"invoicing it exactly (1-{a.max_lines} lines, {report['lines']:,} lines in all), in "
        f"{report['files']} files of up to {a.sets_per_file} sets, {a.groups_per_file} "
        f"functional groups each ({report['bytes'] / 1e6:.1f} MB), from {a.suppliers} suppliers "
        "that trade by EDI (trading partners wanting a 997 per group, delivered over SFTP). "
        f"Seeded beforehand in {report['seeded']['seconds']:.1f} s (POs, lines, receipts by "
        "COPY): " + ", ".join(f"{v:,} {k}" for k, v in report["seeded"]["rows"].items()) + ". "
        "Connectors: a local-folder pickup (`file_in`, x12, polled every second, "
        "`min_age_seconds` 0) routing vouchers to `erp-vouchers` (`rest_out` to the sandbox "
        "ERP's `/erp/ap-vouchers`, no rate limit).",
        "- Method: the files are written to a staging folder, then renamed into the pickup "
        "folder at once (*release*). Throughput is invoices / (last voucher posted - release); "
        "latency is the voucher posting's `completed_at` minus the `received_at` of the "
        "interchange the invoice came in (and minus the release); all from "
        "`pipeline_transaction`.",
        "",
        "*Steady* is the rate between the 10th and 90th percentile of posting times (without "
        "the start and the tail).",
        "",
        "| invoices | files | picked up (first / all) | interchanges split (all) | "
        "vouchers posted | throughput | steady | p50 | p95 | p99 | max | p95 from release |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {report['invoices']:,} | {report['files']} | {fmt_s(f['first_pickup'])} / "
        f"{fmt_s(f['last_pickup'])} | {fmt_s(f['last_split'])} | "
        f"{f['voucher_status'].get('completed', 0):,} in {fmt_s(f['span'])} | "
        f"**{rate:,.0f} invoices/s** | {f['steady_rate']:,.0f}/s | {fmt_s(f['latency']['p50'])} | "
        f"**{fmt_s(f['latency']['p95'])}** | {fmt_s(f['latency']['p99'])} | "
        f"{fmt_s(f['latency']['max'])} | {fmt_s(f['latency_release']['p95'])} |",
        "",
        "Checks (the run fails when one does not hold):",
        "",
        "| check | expected | found |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {want} | {got} |" for name, want, got in report["checks"]]
    extra = report["check_extra"]
    lines += [
        "",
        f"- Retries: {f['voucher_retries']} voucher postings and {f['ack_retries']} 997s needed "
        f"more than one attempt; the ERP answered {extra['erp_replays']} replays.",
        "- By stage (p50 / p95): interchange received → its 810 stored as a child "
        f"{fmt_s(f['split']['p50'])} / {fmt_s(f['split']['p95'])}; child stored → matched, "
        f"voucher queued {fmt_s(f['processed']['p50'])} / {fmt_s(f['processed']['p95'])}; "
        f"voucher queued → posted {fmt_s(f['delivered']['p50'])} / "
        f"{fmt_s(f['delivered']['p95'])}. Average rows per commit: "
        + ", ".join(f"{k} {v:,.1f}" for k, v in f["per_commit"].items())
        + f". First voucher posted {fmt_s(f['first_voucher'])} after release.",
        "",
        "CPU from release to the last voucher posted: average cores busy (of 2) and "
        "milliseconds of CPU per invoice (cores ÷ invoices/s), from `/proc`. PostgreSQL "
        "backends are told apart by their client's `application_name`.",
        "",
        "| who | cores | ms per invoice |",
        "|---|---:|---:|",
        *[
            f"| {label} | {cores:.2f} | {'' if math.isnan(per) else f'{per:.2f}'} |"
            for label, cores, per in cpu_rows(report)
        ],
        "",
        "### Interpretation",
        "",
        interpret(report),
        "",
    ]
    return "\n".join(lines)


CPU_GROUPS = (
    # label, roles; None: the sum of the product's rows above it
    ("HubConsole: Celery workers (pickup, split, match, deliver)", ("workers",)),
    ("HubConsole: PostgreSQL for the workers", (PG_WORKERS,)),
    ("HubConsole: beat and Redis", ("beat", "Redis")),
    ("**HubConsole in all**", None),
    ("sandbox ERP (gunicorn)", ("sandbox",)),
    ("PostgreSQL for the sandbox ERP", (PG_SANDBOX,)),
    ("sandbox SFTP server (997s)", ("sftp",)),
    ("this script (polling, CPU meter)", ("bench",)),
    ("PostgreSQL server processes, other backends", (PG_REST,)),
    ("other users of the machine", (OTHERS,)),
    ("machine busy", ("machine busy",)),
)


def cpu_rows(report: dict) -> list[tuple[str, float, float]]:
    cpu, rate = report["cpu"], report["figures"]["rate"]
    rows, product = [], 0.0
    for label, roles in CPU_GROUPS:
        cores = product if roles is None else sum(cpu[r] for r in roles)
        if label.startswith("HubConsole"):
            product += cores
        # Other users' CPU and the machine's total are not this run's cost per invoice.
        costed = rate and roles not in ((OTHERS,), ("machine busy",))
        rows.append((label, cores, 1000 * cores / rate if costed else math.nan))
    return rows


def interpret(report: dict) -> str:
    f, cpu = report["figures"], report["cpu"]
    rate = f["rate"]
    own = sum(cpu[r] for r in ROLE_ORDER if r != OTHERS)
    product = next(per for label, _, per in cpu_rows(report) if "in all" in label)

    def ms(role: str) -> float:
        return 1000 * cpu[role] / rate if rate else math.nan

    dup = f["sandbox_duplicate_check"]
    parts = [
        f"{report['invoices']:,} invoices went from file to posted AP voucher at {rate:,.0f} "
        f"invoices/s ({f['steady_rate']:,.0f}/s steady), p95 {fmt_s(f['latency']['p95'])} "
        f"after their interchange was stored ({fmt_s(f['latency_release']['p95'])} after "
        f"release). Intake is not the limit: every file was picked up "
        f"{fmt_s(f['last_pickup'])} after release and every interchange split into its 810s "
        f"{fmt_s(f['last_split'])} after release (up to "
        f"{f['per_commit']['interchanges split']:.0f} interchanges per commit). The invoices "
        "then queue for the match step (child stored → voucher queued p50 "
        f"{fmt_s(f['processed']['p50'])}, p95 {fmt_s(f['processed']['p95'])}): the latency "
        "of a burst is mostly its queue and grows with the burst (the last invoice waits for "
        "all the others).",
        f"Voucher queued → posted takes p50 {fmt_s(f['delivered']['p50'])} although one POST "
        f"to the sandbox ERP took {f['post_ms']['p50']:.1f} ms (p50; p95 "
        f"{f['post_ms']['p95']:.1f} ms): the one worker with two pool processes serves "
        "every queue, and a delivery drain waits until a processing drain (up to "
        "`HUBCONSOLE_DRAIN_SECONDS`, 20 s) hands its process back.",
        f"The machine was {cpu['machine busy']:.2f} of 2 cores busy, {cpu[OTHERS]:.2f} of them "
        f"by other users; this run's processes used {own:.2f} cores. HubConsole itself cost "
        f"{product:.1f} ms of CPU per invoice (Celery workers {ms('workers'):.1f} ms, their "
        f"PostgreSQL backends {ms(PG_WORKERS):.1f} ms); the test doubles another "
        f"{ms('sandbox') + ms(PG_SANDBOX) + ms('sftp'):.1f} ms. The run is CPU-bound, and the "
        "workers' match step is the largest share; with fewer cores left by other users the "
        "rate falls in proportion, so compare ms of CPU per invoice across runs rather than "
        "invoices/s.",
        f"The sandbox ERP's PostgreSQL share ({ms(PG_SANDBOX):.1f} ms per invoice) grows with "
        "the run: its duplicate-invoice check (`apps/sandbox/erp.py::_duplicate`) compares "
        f"the JSON of every voucher it holds ({dup['scan']}: {dup['ms']:.1f} ms per posting "
        f"at {dup['rows']:,} vouchers).",
    ]
    return " ".join(parts)


# --- Main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=10_000, help="810 transaction sets")
    parser.add_argument("--sets-per-file", type=int, default=100, help="810s per X12 file")
    parser.add_argument(
        "--groups-per-file", type=int, default=4, help="functional groups (GS) per file"
    )
    parser.add_argument("--suppliers", type=int, default=4, choices=range(1, len(SUPPLIERS) + 1))
    parser.add_argument("--items", type=int, default=200, help="items in the catalogue")
    parser.add_argument("--max-lines", type=int, default=5, help="lines per PO: 1 to this")
    parser.add_argument("--concurrency", type=int, default=2, help="Celery pool processes")
    parser.add_argument("--sandbox-workers", type=int, default=2, help="sandbox ERP processes")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to finish")
    parser.add_argument("--seed", type=int, default=810, help="random seed of the data")
    parser.add_argument("--no-docs", action="store_true", help="leave docs/benchmarks.md alone")
    parser.add_argument("--keep", action="store_true", help="keep the database and files")
    args = parser.parse_args(argv)
    if args.invoices < 1 or args.sets_per_file < 1 or args.groups_per_file < 1:
        parser.error("--invoices, --sets-per-file and --groups-per-file must be at least 1")
    if not 1 <= args.max_lines <= args.items:
        parser.error("--max-lines must be between 1 and --items")
    return args


def run(args, env: dict, children: Children, run_dir: Path, report: dict) -> list[str]:
    """The whole benchmark; returns the checks that failed."""
    database_url = env["DATABASE_URL"]
    staging, pickup, sftp_root = run_dir / "staging", run_dir / "pickup", run_dir / "sftp"
    for folder in (staging, pickup, *(sftp_root / s[0] / "in" for s in SUPPLIERS)):
        folder.mkdir(parents=True, exist_ok=True)
    sandbox_port, sftp_port = free_port(), free_port()

    say(f"recreating database {database_name(database_url)}, flushing {env['REDIS_URL']}")
    recreate_database(database_url)
    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from apps.sandbox.sftp import host_key

    say("applying migrations")
    call_command("migrate", "--noinput", verbosity=0)
    key = host_key(run_dir / "sftp_host_key").export_public_key().decode().strip()
    say(f"seeding {args.invoices:,} received purchase orders and the network")
    seeded = seed(
        args,
        pickup=pickup,
        sandbox_url=f"http://{HOST}:{sandbox_port}",
        sftp_port=sftp_port,
        sftp_key=key,
    )
    say(f"   {seeded.seconds:.1f} s: " + ", ".join(f"{v:,} {k}" for k, v in seeded.rows.items()))
    invoice_date = dt.date.today()
    files = interchange_files(args, seeded, invoice_date)
    check_files(files)
    for file in files:
        (staging / file.name).write_text(file.text)
    connections.close_all()
    report.update(
        invoices=len(seeded.orders),
        lines=sum(len(o.lines) for o in seeded.orders),
        files=len(files),
        bytes=sum(len(f.text) for f in files),
        seeded={"seconds": seeded.seconds, "rows": seeded.rows},
    )
    say(f"wrote {len(files)} files ({report['bytes'] / 1e6:.1f} MB) to {staging}")

    conn = psycopg.connect(database_url, application_name=BENCH_APP)
    report["machine"] = machine_facts(conn)
    conn.commit()
    meter = CpuMeter(children, database_url)
    meter.start()
    try:
        say("starting the sandbox ERP, the SFTP server, the workers and beat")
        start_processes(args, children, run_dir, sandbox_port, sftp_port)
        # Pickups run before the files arrive: the first (empty) one proves beat and workers.
        deadline = time.monotonic() + 60
        while _progress(conn, seeded)["runs"] == 0:
            children.check()
            if time.monotonic() > deadline:
                raise BenchError("no pickup ran within 60 s of starting beat and the workers")
            time.sleep(0.2)
        time.sleep(1.0)
        report["load"] = [os.getloadavg()[0]]
        before = meter.sample()
        released = time.time()
        for file in files:
            os.rename(staging / file.name, pickup / file.name)
        say(
            f"released {len(files)} files into the pickup folder in "
            f"{1000 * (time.time() - released):.1f} ms"
        )
        state = wait_done(args, conn, children, seeded, len(files))
        after = meter.sample()
        report["load"].append(os.getloadavg()[0])
        report["cpu"] = cpu_split(before, after)
        say(f"done: {state['posted']:,} vouchers posted")
        figures = measure(conn, seeded, files, released)
        figures["sandbox_duplicate_check"] = sandbox_duplicate_check(conn)
        checks, extra = verify(conn, seeded, files, figures, sftp_root)
        report.update(figures=figures, checks=checks, check_extra=extra)
    finally:
        meter.halt.set()
        meter.join(5)
        meter.activity.close()
        conn.close()
    return [f"{name}: expected {want}, found {got}" for name, want, got in checks if want != got]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = prepare_environment()
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = ROOT / "var" / "bench" / f"810-{stamp}"
    run_dir.mkdir(parents=True, exist_ok=True)
    children = Children(env, run_dir)
    report: dict = {
        "args": args,
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "command": ".venv/bin/python bench/invoices_810.py"
        + "".join(" " + shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
    }

    def stop_on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_on_signal)
    started = time.monotonic()
    say(f"logs of the processes started: {run_dir}")
    try:
        problems = run(args, env, children, run_dir, report)
    except BenchError as error:
        say(f"benchmark failed: {error}")
        return 1
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    finally:
        say("stopping every process the benchmark started")
        children.stop_all()
        close_and_drop(env["DATABASE_URL"], keep=args.keep)
        if not args.keep:
            for folder in ("staging", "pickup", "sftp"):
                shutil.rmtree(run_dir / folder, ignore_errors=True)
        with contextlib.suppress(redis.RedisError):
            redis.Redis.from_url(env["REDIS_URL"]).flushdb()

    f = report["figures"]
    section = render(report)
    print("\n" + section)
    say(
        f"{f['rate']:,.0f} invoices/s; latency p50 {fmt_s(f['latency']['p50'])}, p95 "
        f"{fmt_s(f['latency']['p95'])}, p99 {fmt_s(f['latency']['p99'])}; all files picked up "
        f"{fmt_s(f['last_pickup'])} after release"
    )
    for problem in problems:
        say(f"CHECK FAILED: {problem}")
    if problems:
        say("the flow did not do what it should: docs/benchmarks.md left alone")
        return 1
    if not args.no_docs:
        write_docs_section(SECTION, section)
        say(f"updated {DOCS.relative_to(ROOT)}")
    say(f"total time {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
