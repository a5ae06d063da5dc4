"""Pipeline benchmark: durable HTTP ingest, end-to-end delivery, and the PostgreSQL COPY ceiling.

    .venv/bin/python bench/pipeline.py [--messages 10000] [--ingest-messages 3000] ...

What it does, on this machine, in one run (see bench/README.md):

1. Durable ingest over HTTP. The real web app (``gunicorn hubconsole.wsgi``) receives signed
   JSON webhooks at concurrency 1, 4 and 16 with no Celery worker running: every 202 means the
   raw bytes, the "received" event and the work item were committed. Reports messages/s and
   latency percentiles, then checks that every 202 has its stored transaction.
2. PostgreSQL COPY ceiling. The same payloads COPYed into a table shaped like
   pipeline_transaction (same columns, same indexes); the ratio ingest rate / COPY rate.
3. End to end. Two Celery pool processes (one ``celery worker -c 2``) and beat, the sandbox
   target in its own gunicorn: a calibration burst finds the rate the pipeline sustains, then
   N messages are sent at that rate. Throughput and per-message latency come from the
   database (outbound completed_at - inbound received_at); the sandbox must hold no posting
   twice.

Everything it starts runs in its own process group and is stopped on the way out, whatever
happens. It drops and recreates its own database (the name must contain "bench") and flushes
the Redis database in REDIS_URL. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import math
import os
import platform
import random
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import redis
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from apps.connectors.signing import SIGNATURE_HEADER, sign  # noqa: E402 (needs ROOT on path)
from bench.common import (  # noqa: E402 (needs ROOT on path)
    DOCS,
    TICK,
    BenchError,
    Children,
    database_name,
    fmt_ms,
    fmt_s,
    free_port,
    machine_busy,
    recreate_database,
    require_local,
    say,
    wait_http,
    wait_log,
    write_docs_section,
)

BIN = Path(sys.executable).parent
HOST = "127.0.0.1"  # the only address this benchmark sends traffic to
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/hubconsole_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
SECRET_ENV = "HUBCONSOLE_SECRET_BENCH_WEBHOOK"
SECRET = "bench-webhook-secret-" + "k" * 24
SECTION = "## Pipeline: ingest and end-to-end"
TARGET_INGEST = 1000.0  # messages/s
TARGET_E2E = 500.0  # messages/s
TARGET_E2E_P95 = 2.0  # seconds
COPY_REPEATS = 3


# --- CPU accounting (from /proc) ----------------------------------------------------------------

OTHERS = "others (not this benchmark)"


class CpuMeter(threading.Thread):
    """Samples every process's CPU time twice a second and files it under a role: a process
    group the benchmark started, the benchmark itself, PostgreSQL backends of the benchmark's
    database, PostgreSQL's own server processes, Redis, or others (other users' work on this
    shared machine). Sampling often keeps most of the CPU of short-lived processes, such as
    the backend of one Celery task."""

    def __init__(self, children: Children, database: str):
        super().__init__(daemon=True)
        self.children = children
        self.database = database
        self.lock = threading.Lock()
        self.seen: dict[tuple[int, int], tuple[str, float]] = {}
        self.roles: dict[tuple[int, int], str] = {}
        self.halt = threading.Event()
        self.scan()

    def _role(self, pid: int, comm: bytes, pgrp: int) -> str:
        if pid == os.getpid():
            return "bench client"
        for name, child in list(self.children.running.items()):
            if child.pgid == pgrp:
                return name
        if comm == b"postgres":
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                return OTHERS
            if f" {self.database} ".encode() in cmdline:
                return "PostgreSQL (bench backends)"
            if re.search(rb" \S+ \S+ [0-9a-f.:\[\]]+\(\d+\)", cmdline) or b"[local]" in cmdline:
                return OTHERS  # a backend of another database
            return "PostgreSQL (server processes)"
        if comm.startswith(b"redis-server"):
            return "Redis"
        return OTHERS

    def scan(self) -> None:
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
                role = self.roles[key] = self._role(key[0], comm, int(fields[2]))
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
    """Average cores used per role between two samples."""
    (t0, busy0, seen0), (t1, busy1, seen1) = before, after
    wall = max(t1 - t0, 1e-6)
    split: dict[str, float] = {}
    for key, (role, cpu) in seen1.items():
        used = cpu - seen0.get(key, (role, 0.0))[1]
        split[role] = split.get(role, 0.0) + used / wall
    busy = (busy1 - busy0) / wall
    # CPU of processes that ended between two scans, and of the kernel, is not in any role.
    split[OTHERS] = max(0.0, busy - sum(v for k, v in split.items() if k != OTHERS))
    order = ["web", "beat", "sandbox", "bench client"]
    order += ["PostgreSQL (bench backends)", "PostgreSQL (server processes)", "Redis", OTHERS]
    workers = sorted(name for name in split if name.startswith("workers"))
    result = {name: split[name] for name in [order[0], *workers, *order[1:]] if name in split}
    result["machine busy"] = busy
    return result


def format_split(split: dict[str, float]) -> str:
    return ", ".join(f"{name} {cores:.2f}" for name, cores in split.items())


class Vacuumer(threading.Thread):
    """With --vacuum-seconds: VACUUM the work-item table that often, as autovacuum would on a
    server that runs it (see the server settings in the report)."""

    def __init__(self, database_url: str, seconds: float):
        super().__init__(daemon=True)
        self.database_url = database_url
        self.seconds = seconds
        self.halt = threading.Event()
        self.runs = 0

    def run(self) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            while not self.halt.wait(self.seconds):
                conn.execute("VACUUM pipeline_workitem")
                self.runs += 1


_CLAIM_PROBE = """
EXPLAIN (ANALYZE, FORMAT JSON)
SELECT w.id FROM pipeline_workitem w
WHERE w.stage = 'deliver' AND w.available_at <= now()
  AND (w.leased_until IS NULL OR w.leased_until < now()) AND w.open_claims = 0
ORDER BY w.available_at LIMIT 200
"""


def queue_health(conn) -> dict:
    """Dead rows left in the work-item table, and what a claim's scan costs on it now."""
    dead, live = conn.execute(
        "SELECT n_dead_tup, n_live_tup FROM pg_stat_user_tables WHERE relname = 'pipeline_workitem'"
    ).fetchone()
    plan = conn.execute(_CLAIM_PROBE).fetchone()[0][0]
    conn.commit()
    return {"dead": dead, "live": live, "claim_ms": plan["Execution Time"]}


# --- Payloads ---------------------------------------------------------------------------------

_SUPPLIERS = [
    ("SUP-10041", "Medline Industries LP", "0616-3942", "0080196000002"),
    ("SUP-10077", "Cardinal Health 200 LLC", "1892-4410", "0050428000003"),
    ("SUP-10112", "Owens & Minor Distribution Inc", "0039-8821", "0076670000004"),
    ("SUP-10230", "Henry Schein Medical", "0122-7740", "0040230000005"),
    ("SUP-10389", "Stryker Instruments", "0517-2203", "0761328000006"),
]
_ITEMS = [
    ("Nitrile exam gloves, powder-free, size M", "BX", "6.85", "Ansell"),
    ("Surgical gown, AAMI level 3, XL, sterile", "CS", "142.50", "Cardinal Health"),
    ("IV administration set, 15 drops/mL, 104 in", "CS", "96.20", "B. Braun"),
    ("Syringe 10 mL Luer-Lok, sterile", "BX", "18.40", "BD"),
    ("Foley catheter 16 Fr, 5 mL balloon, silicone", "EA", "9.75", "Bard"),
    ("Chlorhexidine gluconate 2% prep applicator, 26 mL", "CS", "88.00", "BD"),
    ("Suture, polyglactin 910, 3-0, SH needle", "BX", "121.30", "Ethicon"),
    ("Sterile drape, laparoscopy, with pouches", "CS", "210.00", "Medline"),
    ("Blood pressure cuff, adult, single patient use", "BX", "45.60", "Welch Allyn"),
    ("Hip implant femoral stem, size 12, cementless", "EA", "1890.00", "Stryker"),
]
_FACILITIES = [
    ("LOC-0101", "St. Mary's Regional Medical Center", "1200 Harbor Blvd", "Tacoma", "WA"),
    ("LOC-0207", "Riverside Surgical Pavilion", "45 Mill Street", "Dayton", "OH"),
    ("LOC-0315", "Northside Community Hospital", "780 Peachtree Rd", "Atlanta", "GA"),
]


def purchase_order(doc_id: str, event_id: str, rng: random.Random) -> bytes:
    """A purchase order event as a procurement system would send it: ~1-3 KB of JSON."""
    supplier = rng.choice(_SUPPLIERS)
    facility = rng.choice(_FACILITIES)
    lines, subtotal = [], 0.0
    for number in range(1, rng.randint(2, 9) + 1):
        description, uom, price, maker = rng.choice(_ITEMS)
        quantity = rng.randint(1, 40)
        extended = quantity * float(price)
        subtotal += extended
        lines.append(
            {
                "line": number,
                "item_id": f"ITM-{rng.randint(100000, 999999)}",
                "gtin": f"00{rng.randint(10**11, 10**12 - 1)}",
                "description": description,
                "manufacturer": maker,
                "mfr_part": f"{maker[:3].upper()}-{rng.randint(1000, 99999)}",
                "uom": uom,
                "quantity": quantity,
                "unit_price": price,
                "extended_price": f"{extended:.2f}",
                "gl_account": f"6{rng.randint(1000, 9999)}",
                "cost_center": f"CC-{rng.randint(100, 999)}",
            }
        )
    tax = round(subtotal * 0.065, 2)
    document = {
        "event_id": event_id,
        "event_type": "purchase_order.approved",
        "occurred_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "id": doc_id,
        "po_number": f"45{rng.randint(10**7, 10**8 - 1)}",
        "revision": 1,
        "status": "approved",
        "currency": "USD",
        "payment_terms": rng.choice(["NET30", "NET45", "2/10 NET30"]),
        "requested_delivery_date": (
            dt.date.today() + dt.timedelta(days=rng.randint(2, 21))
        ).isoformat(),
        "buyer": {
            "org_id": "ORG-0042",
            "name": "Cascade Health Partners",
            "department": rng.choice(["Perioperative Services", "Materials Management", "ICU"]),
            "contact": {"name": "Dana Whitfield", "email": "dana.whitfield@cascade.example"},
        },
        "supplier": {
            "id": supplier[0],
            "name": supplier[1],
            "duns": supplier[2],
            "gln": supplier[3],
        },
        "ship_to": {
            "location_id": facility[0],
            "name": facility[1],
            "address": {
                "line1": facility[2],
                "city": facility[3],
                "state": facility[4],
                "postal_code": f"{rng.randint(10000, 99999)}",
                "country": "US",
            },
            "dock": f"Dock {rng.randint(1, 6)}",
        },
        "lines": lines,
        "totals": {
            "subtotal": f"{subtotal:.2f}",
            "tax": f"{tax:.2f}",
            "freight": "0.00",
            "total": f"{subtotal + tax:.2f}",
        },
    }
    return json.dumps(document, separators=(",", ":")).encode()


@dataclass
class Message:
    event_id: str
    body: bytes
    request: bytes = b""


def make_messages(prefix: str, count: int, seed: int) -> list[Message]:
    rng = random.Random(seed)
    messages = []
    for n in range(count):
        event_id = f"evt-{prefix}-{n:06d}"
        messages.append(Message(event_id, purchase_order(f"PO-{prefix}-{n:06d}", event_id, rng)))
    return messages


def sign_requests(messages: list[Message], slug: str, port: int) -> None:
    """Build each HTTP/1.1 request once, signed now (signatures are valid for 300 s)."""
    timestamp = int(time.time())
    for message in messages:
        head = (
            f"POST /in/webhooks/{slug} HTTP/1.1\r\n"
            f"Host: {HOST}:{port}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(message.body)}\r\n"
            f"{SIGNATURE_HEADER}: {sign(SECRET, message.body, timestamp)}\r\n"
            "\r\n"
        )
        message.request = head.encode() + message.body


# --- Load generator: raw asyncio streams, HTTP/1.1 keep-alive -----------------------------------


async def _exchange(reader, writer, request: bytes) -> tuple[int, bytes, bool]:
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, close = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
    body = await reader.readexactly(length) if length else b""
    return status, body, close


@dataclass
class LoadResult:
    statuses: list[int]
    latencies: list[float]
    elapsed: float
    errors: list[str] = field(default_factory=list)

    def count(self, status: int) -> int:
        return self.statuses.count(status)


async def _send(
    port: int, messages: list[Message], concurrency: int, rate: float | None, limit: float
) -> LoadResult:
    total = len(messages)
    statuses = [0] * total
    latencies = [math.nan] * total
    errors: list[str] = []
    position = 0
    started = time.perf_counter()
    stop_at = started + limit

    async def lane() -> None:
        nonlocal position
        reader = writer = None
        try:
            while position < total and time.perf_counter() < stop_at:
                index = position
                position += 1
                if rate:
                    delay = started + index / rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                if writer is None:
                    reader, writer = await asyncio.open_connection(HOST, port)
                sent = time.perf_counter()
                try:
                    async with asyncio.timeout(30):
                        status, body, close = await _exchange(
                            reader, writer, messages[index].request
                        )
                except (OSError, EOFError, TimeoutError, ValueError) as error:
                    status, body, close = -1, repr(error).encode(), True
                latencies[index] = time.perf_counter() - sent
                statuses[index] = status
                if status not in (200, 202) and len(errors) < 5:
                    errors.append(f"{status}: {body[:200]!r}")
                if close:
                    writer.close()
                    reader = writer = None
        finally:
            if writer is not None:
                writer.close()

    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return LoadResult(statuses, latencies, time.perf_counter() - started, errors)


def send(
    port: int,
    messages: list[Message],
    *,
    concurrency: int,
    rate: float | None = None,
    limit: float = 120.0,
) -> LoadResult:
    return asyncio.run(_send(port, messages, concurrency, rate, limit))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(v for v in values if not math.isnan(v))
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


# --- Database ---------------------------------------------------------------------------------


_SETUP = """
import json
from apps.connectors.models import Connector
target = Connector.objects.create(
    slug="bench-erp", name="Bench ERP target", kind="rest_out",
    settings={"url": TARGET_URL}, rate_limit_per_second=None, timeout_seconds=10.0,
    max_attempts=10, backoff_base_seconds=0.5, backoff_cap_seconds=5.0,
    breaker_threshold=1000000,
)
ids = {"target": target.pk}
for slug in ("bench-ingest", "bench-calibrate", "bench-probe-1", "bench-probe-2",
             "bench-probe-3", "bench-e2e"):
    ids[slug] = Connector.objects.create(
        slug=slug, name=f"Bench webhook {slug}", kind="webhook_in",
        document_type="generic.document",
        settings={"secret_env": SECRET_ENV, "event_id_field": "event_id",
                  "key_fields": {"po_number": "po_number"}},
        forward_to=target, breaker_threshold=1000000,
    ).pk
print("BENCH-IDS " + json.dumps(ids))
"""


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(f"manage.py {args[0]} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def create_connectors(env: dict, target_url: str) -> dict[str, int]:
    code = f"TARGET_URL = {target_url!r}\nSECRET_ENV = {SECRET_ENV!r}\n" + _SETUP
    out = manage(env, "shell", "-c", code)
    line = next(line for line in out.splitlines() if line.startswith("BENCH-IDS "))
    return json.loads(line.removeprefix("BENCH-IDS "))


def verify_stored(conn, connector_id: int, messages: list[Message], result: LoadResult) -> dict:
    """Every 202 must have its transaction (same content), received event and work item."""
    accepted = [m for m, status in zip(messages, result.statuses, strict=True) if status == 202]
    keys = [f"in:{connector_id}:event:{m.event_id}" for m in accepted]
    shas = [hashlib.sha256(m.body).hexdigest() for m in accepted]
    row = conn.execute(
        """
        SELECT count(t.id),
               count(t.id) FILTER (WHERE EXISTS (
                   SELECT 1 FROM pipeline_transactionevent e
                   WHERE e.transaction_id = t.id AND e.kind = 'received')),
               count(t.id) FILTER (WHERE EXISTS (
                   SELECT 1 FROM pipeline_workitem w WHERE w.transaction_id = t.id))
        FROM unnest(%s::text[], %s::text[]) AS u(key, sha)
        LEFT JOIN pipeline_transaction t
               ON t.idempotency_key = u.key AND t.content_sha256 = u.sha AND t.direction = 'in'
        """,
        [keys, shas],
    ).fetchone()
    return {"accepted": len(accepted), "stored": row[0], "events": row[1], "work_items": row[2]}


# --- COPY ceiling -----------------------------------------------------------------------------

_COPY_COLUMNS = (
    "connector_id, direction, format, document_type, status, idempotency_key, content_sha256, "
    "raw, raw_size, correlation_id, document_id, revision, attempts, last_error_code, "
    "last_error, metadata, received_at, updated_at"
)


def copy_ceiling(conn, connector_id: int, bodies: list[bytes], rows: int) -> dict:
    """COPY ``rows`` inbound rows (the same bodies, fresh keys) into a table with the shape and
    indexes of pipeline_transaction; the text is built beforehand so only the server is timed."""
    now = dt.datetime.now(dt.UTC).isoformat()
    lines = []
    for n in range(rows):
        body = bodies[n % len(bodies)]
        metadata = json.dumps({"channel": "webhook", "event_id": f"copy-{n}", "remote_addr": HOST})
        lines.append(
            "\t".join(
                [
                    str(connector_id),
                    "in",
                    "json",
                    "generic.document",
                    "received",
                    f"in:{connector_id}:event:copy-{n:07d}",
                    hashlib.sha256(body).hexdigest(),
                    "\\\\x" + body.hex(),
                    str(len(body)),
                    os.urandom(16).hex(),
                    "",
                    "1",
                    "0",
                    "",
                    "",
                    metadata,
                    now,
                    now,
                ]
            )
        )
    data = ("\n".join(lines) + "\n").encode()
    statement = f"COPY bench_copy_transaction ({_COPY_COLUMNS}) FROM STDIN"
    chunk = 1 << 20
    timings, indexes = [], 0
    for _ in range(COPY_REPEATS):  # each into a fresh table; the median is reported
        conn.execute("DROP TABLE IF EXISTS bench_copy_transaction")
        conn.execute(
            "CREATE TABLE bench_copy_transaction (LIKE pipeline_transaction INCLUDING ALL)"
        )
        conn.commit()
        indexes = conn.execute(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'bench_copy_transaction'"
        ).fetchone()[0]
        started = time.perf_counter()
        with conn.cursor() as cursor, cursor.copy(statement) as copy:
            for offset in range(0, len(data), chunk):
                copy.write(data[offset : offset + chunk])
        conn.commit()
        timings.append(time.perf_counter() - started)
        stored = conn.execute("SELECT count(*) FROM bench_copy_transaction").fetchone()[0]
        conn.execute("DROP TABLE bench_copy_transaction")
        conn.commit()
        if stored != rows:
            raise BenchError(f"COPY stored {stored} rows of {rows}")
    elapsed = sorted(timings)[len(timings) // 2]
    return {
        "rows": rows,
        "seconds": elapsed,
        "rate": rows / elapsed,
        "indexes": indexes,
        "runs": [rows / t for t in timings],
    }


# --- End to end -------------------------------------------------------------------------------


def outstanding(conn) -> int:
    return conn.execute("SELECT count(*) FROM pipeline_workitem").fetchone()[0]


def wait_settled(conn, children: Children, expected: int, limit: float) -> bool:
    """Wait until no work is pending (every message delivered or stopped); bounded by limit.
    Polls only the small work-item table, so the wait costs the database next to nothing."""
    deadline = time.monotonic() + limit
    last_report = 0.0
    while True:
        children.check()
        pending = outstanding(conn)
        conn.commit()
        if pending == 0:
            return True
        if time.monotonic() - last_report > 3:
            say(f"   {pending} of {expected} messages still have work pending")
            last_report = time.monotonic()
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)


def e2e_figures(conn, connector_id: int) -> dict:
    """Throughput, latency and batching of one run, from its rows in the database.

    Rows are fetched by key and joined here: these tables are written far faster than the
    server's statistics follow (this server may run without autovacuum), and a join planned
    on stale statistics can take minutes."""
    inbound = conn.execute(
        "SELECT id, received_at, completed_at, status FROM pipeline_transaction "
        "WHERE connector_id = %s AND direction = 'in'",
        [connector_id],
    ).fetchall()
    outbound = conn.execute(
        "SELECT id, parent_id, completed_at FROM pipeline_transaction "
        "WHERE parent_id = ANY(%s) AND direction = 'out' AND status = 'completed'",
        [[row[0] for row in inbound]],
    ).fetchall()
    events = conn.execute(
        "SELECT kind, at, detail->>'duration_ms' FROM pipeline_transactionevent "
        "WHERE transaction_id = ANY(%s) AND kind IN ('processed', 'delivered')",
        [[row[0] for row in inbound] + [row[0] for row in outbound]],
    ).fetchall()
    status: dict[str, int] = {}
    for row in inbound:
        status[row[3]] = status.get(row[3], 0) + 1
    delivered_at = {parent: done for _, parent, done in outbound}
    pairs = sorted(
        (received, processed, delivered_at[tx_id])
        for tx_id, received, processed, _ in inbound
        if tx_id in delivered_at
    )
    total = [(d - r).total_seconds() for r, _, d in pairs]
    to_processed = [(p - r).total_seconds() for r, p, _ in pairs]
    to_delivered = [(d - p).total_seconds() for _, p, d in pairs]
    tenth = max(1, len(pairs) // 10)
    count = len(pairs)
    span = (max(d for *_, d in pairs) - pairs[0][0]).total_seconds() if pairs else math.nan
    sends = [float(ms) for kind, _, ms in events if kind == "delivered" and ms is not None]
    batches = {}
    for kind in ("processed", "delivered"):
        stamps = [at for k, at, _ in events if k == kind]
        if stamps:
            batches[kind] = len(stamps) / len(set(stamps))  # events of one commit share `at`
    return {
        "delivered": count,
        "span": span,
        "throughput": count / span if count and span > 0 else math.nan,
        "p50": percentile(total, 0.50),
        "p95": percentile(total, 0.95),
        "p99": percentile(total, 0.99),
        "max": max(total, default=math.nan),
        "process_p50": percentile(to_processed, 0.50),
        "process_p95": percentile(to_processed, 0.95),
        "deliver_p50": percentile(to_delivered, 0.50),
        "deliver_p95": percentile(to_delivered, 0.95),
        "send_ms_p50": percentile(sends, 0.50),
        # The first and last tenth by arrival: a pipeline that sustains the rate keeps them
        # alike; a growing backlog shows as a slower last tenth.
        "first_tenth_p50": percentile(total[:tenth], 0.50),
        "last_tenth_p50": percentile(total[-tenth:], 0.50),
        "inbound_status": status,
        "batches": batches,
    }


def sustained(figures: dict, sent_rate: float) -> bool:
    """Whether the pipeline kept up with the sending rate: no backlog grew (the last tenth of
    the messages waited at most twice as long as the first tenth, plus half a second) and it
    delivered at least 80 % of the sending rate (the drain at the end counts against it)."""
    first, last = figures["first_tenth_p50"], figures["last_tenth_p50"]
    return last <= 2 * first + 0.5 and figures["throughput"] >= 0.8 * sent_rate


def duplicate_postings(conn) -> dict:
    row = conn.execute(
        """
        SELECT count(*), count(DISTINCT body->>'document_id'), coalesce(sum(replays), 0)
        FROM sandbox_sandboxposting
        """
    ).fetchone()
    repeated = conn.execute(
        "SELECT count(*) FROM (SELECT body->>'document_id' FROM sandbox_sandboxposting "
        "GROUP BY 1 HAVING count(*) > 1) AS r"
    ).fetchone()[0]
    delivered = conn.execute(
        "SELECT count(*) FROM pipeline_transaction WHERE direction = 'out' AND status = 'completed'"
    ).fetchone()[0]
    return {
        "postings": row[0],
        "documents": row[1],
        "replays": row[2],
        "repeated_documents": repeated,
        "delivered_outbound": delivered,
    }


# --- Report -----------------------------------------------------------------------------------


def machine_facts(conn) -> dict:
    meminfo = Path("/proc/meminfo").read_text()
    kib = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    version = conn.execute("SHOW server_version").fetchone()[0]
    server = {
        name: conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()[0]
        for name in ("autovacuum", "synchronous_commit", "shared_buffers")
    }
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "ram": f"{kib / 1024 / 1024:.1f} GiB",
        "cpu": cpu.group(1).strip() if cpu else platform.processor(),
        "postgres": version,
        "python": platform.python_version(),
        "commit": commit or "?",
        "server": server,
    }


def verdict(ok: bool) -> str:
    return "meets" if ok else "below"


def _roles(split: dict[str, float]) -> dict[str, float]:
    """Cores per column of the CPU table."""
    workers = sum(v for k, v in split.items() if k.startswith("workers") or k == "beat")
    return {
        "web": split.get("web", 0.0),
        "workers": workers,
        "sandbox": split.get("sandbox", 0.0),
        "PostgreSQL": split.get("PostgreSQL (bench backends)", 0.0)
        + split.get("PostgreSQL (server processes)", 0.0),
        "Redis": split.get("Redis", 0.0),
        "client": split.get("bench client", 0.0),
        "others": split.get(OTHERS, 0.0),
    }


def cpu_rows(report: dict) -> list[tuple[str, float, dict[str, float], float]]:
    """(phase, messages/s, cores per column, machine busy) for the CPU table."""
    rows = []
    for level in report["ingest"]:
        split = report["cpu"][f"ingest, concurrency {level['concurrency']}"]
        phase = f"ingest c={level['concurrency']}"
        rows.append((phase, level["rate"], _roles(split), split["machine busy"]))
    for run in report["e2e"]:
        split = report["cpu"][f"end to end, {run['name']}"]
        rows.append(
            (
                f"end to end, {run['name']}",
                run["figures"]["throughput"],
                _roles(split),
                split["machine busy"],
            )
        )
    return rows


def render(report: dict) -> str:
    m = report["machine"]
    copy = report["copy"]
    others = max(row[2]["others"] for row in cpu_rows(report))
    lines = [
        SECTION,
        "",
        f"Measured {report['date']} by `bench/pipeline.py` (how to run it: `bench/README.md`), "
        f"at commit `{m['commit']}`.",
        "",
        f"- Machine: {m['nproc']} cores ({m['cpu']}), {m['ram']} RAM, "
        f"PostgreSQL {m['postgres']} ("
        + ", ".join(f"{k} {v}" for k, v in m["server"].items())
        + f"), Python {m['python']}. The machine is shared: other "
        f"users' processes used up to {others:.2f} cores during a phase (column *others* "
        "below), and everything here (client, web, workers, sandbox, PostgreSQL, Redis) runs "
        "on the same 2 cores.",
        f"- Command: `{report['command']}`",
        f"- Web: {report['web']}.",
        f"- Workers: {report['workers']}.",
        f"- Target: {report['sandbox']}, on the same database server.",
        f"- Load generator: {report['client']}.",
        "",
        "### Durable ingest over HTTP (no Celery worker running)",
        "",
        "Signed purchase-order webhooks (1-3 KB JSON, unique event ids); a 202 means the raw "
        "bytes, the received event and the work item were committed.",
        "",
        "| concurrency | sent | 202 | stored | msg/s | p50 | p95 | p99 | ingest / COPY | "
        "target ≥ 1,000 msg/s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for level in report["ingest"]:
        lines.append(
            f"| {level['concurrency']} | {level['messages']:,} | {level['accepted']:,} | "
            f"{level['verified']['stored']:,} | **{level['rate']:,.0f}** | "
            f"{fmt_ms(level['p50'])} | {fmt_ms(level['p95'])} | {fmt_ms(level['p99'])} | "
            f"{level['rate'] / copy['rate']:.3f} | {verdict(level['rate'] >= TARGET_INGEST)} |"
        )
    lines += [
        "",
        f"PostgreSQL COPY ceiling: {copy['rows']:,} rows with the same payloads into a fresh "
        f"table `(LIKE pipeline_transaction INCLUDING ALL)` ({copy['indexes']} indexes), "
        f"median of {len(copy['runs'])} runs: **{copy['rate']:,.0f} rows/s** "
        f"(runs: {', '.join(f'{r:,.0f}' for r in copy['runs'])}). The ratio column above is "
        "ingest msg/s divided by this.",
        "",
        "### End to end (received → delivered to the sandbox target)",
        "",
        "Latency is outbound `completed_at` - inbound `received_at`; throughput is delivered / "
        "(last delivery - first receipt). The calibration burst is sent as fast as the web "
        "app accepts it. Paced probes then start at a fraction of the burst's throughput and "
        "step the rate down (x 0.8) until one is sustained; the main run is paced at the last "
        "rate tried (the sustained one, if any). *Sustained* means no backlog grew "
        "(the last tenth of the messages waited at most twice as long as the first tenth, "
        "plus 0.5 s) and it delivered at least 80 % of the sending rate.",
        "",
        "| run | messages | sent at | delivered | throughput | p50 | p95 | p99 | max | "
        "sustained | target ≥ 500 msg/s, p95 < 2 s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for run in report["e2e"]:
        f = run["figures"]
        ok = f["throughput"] >= TARGET_E2E and f["p95"] < TARGET_E2E_P95
        sustained = {None: "n/a (burst)", True: "yes", False: "no"}[run["sustained"]]
        lines.append(
            f"| {run['name']} | {run['messages']:,} | {run['sent_rate']:,.0f} msg/s | "
            f"{f['delivered']:,} | **{f['throughput']:,.0f} msg/s** | {fmt_s(f['p50'])} | "
            f"**{fmt_s(f['p95'])}** | {fmt_s(f['p99'])} | {fmt_s(f['max'])} | {sustained} | "
            f"{verdict(ok)} |"
        )
    d = report["duplicates"]
    main = report["e2e"][-1]
    f = main["figures"]
    lines += [
        "",
        f"- Duplicates: the sandbox holds {d['postings']:,} postings for {d['documents']:,} "
        f"documents; **{d['repeated_documents']} documents posted more than once**, "
        f"{d['replays']} replays answered; {d['delivered_outbound']:,} outbound transactions "
        "completed.",
        f"- Main run by stage: received → processed p50 {fmt_s(f['process_p50'])}, p95 "
        f"{fmt_s(f['process_p95'])}; processed → delivered p50 {fmt_s(f['deliver_p50'])}, p95 "
        f"{fmt_s(f['deliver_p95'])}; one POST to the target p50 {f['send_ms_p50']:.1f} ms; "
        "average messages per commit: "
        + ", ".join(f"{k} {v:.0f}" for k, v in main["batches"].items())
        + f"; latency p50 of the first / last tenth of the messages "
        f"{fmt_s(f['first_tenth_p50'])} / {fmt_s(f['last_tenth_p50'])}.",
        f"- Work queue: {report['vacuum']}; afterwards `pipeline_workitem` held "
        f"{report['queue']['live']:,} live and {report['queue']['dead']:,} dead rows, and the "
        f"claim query's scan of the empty deliver queue took {report['queue']['claim_ms']:.2f} "
        "ms.",
        "",
        "### Where the CPU went",
        "",
        "Average cores busy per phase (of 2), and in brackets milliseconds of CPU per message "
        "(cores ÷ msg/s). *PostgreSQL* is the backends of this benchmark's database plus the "
        "server's own processes; *others* is everything not started by the benchmark.",
        "",
        "| phase | msg/s | web | workers | sandbox | PostgreSQL | Redis | client | others | busy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for phase, rate, cores, busy in cpu_rows(report):
        cells = []
        for name in ("web", "workers", "sandbox", "PostgreSQL", "Redis", "client", "others"):
            value = cores[name]
            per = f" ({1000 * value / rate:.2f})" if rate and name != "others" and value else ""
            cells.append(f"{value:.2f}{per}")
        lines.append(f"| {phase} | {rate:,.0f} | " + " | ".join(cells) + f" | {busy:.2f} |")
    lines += ["", "### Interpretation", "", report["interpretation"], ""]
    return "\n".join(lines)


def interpret(report: dict) -> str:
    rows = {row[0]: row for row in cpu_rows(report)}
    top = max(report["ingest"], key=lambda level: level["rate"])
    _, top_rate, top_cores, top_busy = rows[f"ingest c={top['concurrency']}"]
    main = report["e2e"][-1]
    f = main["figures"]
    _, e2e_rate, e2e_cores, e2e_busy = rows[f"end to end, {main['name']}"]

    def ms(cores: dict, name: str, rate: float) -> float:
        return 1000 * cores[name] / rate if rate else math.nan

    own = ("web", "workers", "sandbox", "PostgreSQL", "Redis", "client")
    ingest_ms = sum(ms(top_cores, name, top_rate) for name in own)
    e2e_ms = sum(ms(e2e_cores, name, e2e_rate) for name in own)
    parts = []
    one = next((level for level in report["ingest"] if level["concurrency"] == 1), None)
    if one:
        parts.append(
            f"A single connection gets {one['rate']:,.0f} msg/s ({fmt_ms(one['p50'])} p50 "
            "door to door): each webhook is a Django request that checks the HMAC, parses the "
            "JSON, makes one PostgreSQL round trip (a single autocommitted statement stores "
            "transaction, event and work item, and waits for its WAL flush) and one Redis "
            "`SET NX` for the doorbell, in sequence."
        )
    parts.append(
        f"With {top['concurrency']} connections those overlap until the cores are full "
        f"({top_busy:.2f} of 2 busy): ingest peaked at {top_rate:,.0f} msg/s, costing "
        f"{ms(top_cores, 'web', top_rate):.2f} ms of web CPU and "
        f"{ms(top_cores, 'PostgreSQL', top_rate):.2f} ms of PostgreSQL CPU per message "
        f"({ingest_ms:.2f} ms in all, with the client), so it is bounded by CPU per request, "
        "mostly Python in the web process, not by PostgreSQL's write path: COPY stores the "
        f"same rows {report['copy']['rate'] / top_rate:.0f} times faster."
    )
    posts_ceiling = 1000 / f["send_ms_p50"] if f["send_ms_p50"] else math.nan
    parts.append(
        f"End to end the main run delivered {f['throughput']:,.0f} msg/s with p95 "
        f"{fmt_s(f['p95'])}. Every message then costs about {e2e_ms:.1f} ms of CPU across "
        f"web ({ms(e2e_cores, 'web', e2e_rate):.2f}), workers "
        f"({ms(e2e_cores, 'workers', e2e_rate):.2f}), the sandbox target "
        f"({ms(e2e_cores, 'sandbox', e2e_rate):.2f}) and PostgreSQL "
        f"({ms(e2e_cores, 'PostgreSQL', e2e_rate):.2f}), which alone would cap two idle "
        f"cores near {2000 / e2e_ms:,.0f} msg/s; the machine was {e2e_busy:.2f} of 2 cores "
        "busy, so the limit is CPU, shared by everything on the machine including the sandbox "
        "target and the load generator. The deliver stage posts in parallel waves (the target "
        f"connector's concurrency, 8 requests in flight per process; a POST took "
        f"{f['send_ms_p50']:.1f} ms p50, so one process could post about "
        f"{8 * posts_ceiling:,.0f} msg/s), and both stages commit in batches "
        f"({main['batches'].get('processed', math.nan):.0f} per commit when processing, "
        f"{main['batches'].get('delivered', math.nan):.0f} when delivering). Latency is mostly "
        f"waiting for a worker process (processed → delivered p95 "
        f"{fmt_s(f['deliver_p95'])})."
    )
    queue = report["queue"]
    autovacuum = report["machine"]["server"]["autovacuum"]
    parts.append(
        "PostgreSQL's share also grows with the work queue's dead rows: each item is "
        "inserted, leased (updated) and deleted once per stage, this server runs with "
        f"autovacuum {autovacuum}, {report['vacuum']}, and the run left {queue['dead']:,} "
        "dead rows, over which the claim query's scan of the empty queue took "
        f"{queue['claim_ms']:.2f} ms. HubConsole's own beat task vacuums the queue tables every "
        "10 s (`HUBCONSOLE_QUEUE_VACUUM_SECONDS`), which keeps claims fast whatever the "
        "server's autovacuum does."
    )
    return " ".join(parts)


# --- Main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000, help="end-to-end messages")
    parser.add_argument(
        "--ingest-messages", type=int, default=3000, help="messages per ingest concurrency level"
    )
    parser.add_argument("--concurrency", default="1,4,16", help="ingest concurrency levels")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers (web)")
    parser.add_argument("--web-threads", type=int, default=4, help="threads per web worker")
    parser.add_argument(
        "--web-app",
        default="hubconsole.wsgi:application",
        help="WSGI app of the web process (another module to try a change; it must be "
        "importable through PYTHONPATH)",
    )
    parser.add_argument(
        "--worker-layout",
        choices=["shared", "split"],
        default="shared",
        help="shared: one worker -c 2 on both stages; split: two workers -c 1, one per stage",
    )
    parser.add_argument(
        "--celery-app", default="hubconsole", help="Celery app module (to try a change)"
    )
    parser.add_argument("--sandbox-workers", type=int, default=2)
    parser.add_argument("--sandbox-threads", type=int, default=4)
    parser.add_argument(
        "--e2e-rate",
        default="auto",
        help="msg/s for the main end-to-end run, or 'auto' (see --e2e-rate-factor)",
    )
    parser.add_argument(
        "--e2e-rate-factor",
        type=float,
        default=0.85,
        help="with --e2e-rate auto: the first probe's rate as a fraction of the calibration "
        "burst's throughput; each probe that does not hold steps it down by 0.8",
    )
    parser.add_argument(
        "--vacuum-seconds",
        type=float,
        default=0.0,
        help="VACUUM pipeline_workitem this often during end to end (0: never, leave it to "
        "the server's autovacuum)",
    )
    parser.add_argument("--probes", type=int, default=2, choices=range(4), help="rate probes (0-3)")
    parser.add_argument("--probe-messages", type=int, default=2000, help="messages per probe")
    parser.add_argument("--e2e-concurrency", type=int, default=16, help="client connections")
    parser.add_argument(
        "--calibration-messages", type=int, default=2000, help="burst that finds the rate"
    )
    parser.add_argument("--copy-rows", type=int, default=0, help="0 = all ingest messages")
    parser.add_argument(
        "--phase-seconds", type=float, default=90.0, help="time limit of each sending phase"
    )
    parser.add_argument(
        "--settle-seconds", type=float, default=180.0, help="time limit to finish delivering"
    )
    parser.add_argument("--no-docs", action="store_true", help="do not update docs")
    parser.add_argument(
        "--skip-e2e", action="store_true", help="ingest and COPY only (implies --no-docs)"
    )
    args = parser.parse_args(argv)
    args.levels = [int(v) for v in args.concurrency.split(",") if v.strip()]
    return args


def run(args: argparse.Namespace, children: Children, env: dict, report: dict) -> None:
    database_url = env["DATABASE_URL"]
    web_port, sandbox_port = free_port(), free_port()
    sandbox_url = f"http://{HOST}:{sandbox_port}"

    say(f"recreating database {database_name(database_url)} and flushing {env['REDIS_URL']}")
    recreate_database(database_url)
    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    say("applying migrations")
    manage(env, "migrate", "--noinput", "-v", "0")
    ids = create_connectors(env, f"{sandbox_url}/targets/erp/documents")

    conn = psycopg.connect(database_url)
    report["machine"] = machine_facts(conn)
    conn.commit()
    meter = CpuMeter(children, database_name(database_url))
    meter.start()
    try:
        _phases(args, children, conn, meter, ids, web_port, sandbox_url, report)
    finally:
        meter.halt.set()
        conn.close()


def _phases(args, children, conn, meter, ids, web_port, sandbox_url, report) -> None:
    sandbox_port = urlsplit(sandbox_url).port

    # --- 1. Ingest ---------------------------------------------------------------------------
    web_argv = [
        str(BIN / "gunicorn"),
        args.web_app,
        "-b",
        f"{HOST}:{web_port}",
        "-w",
        str(args.web_workers),
        "--threads",
        str(args.web_threads),
        "--worker-class",
        "gthread",
        "--keep-alive",
        "30",
        "--timeout",
        "120",
    ]
    report["web"] = (
        f"`gunicorn {args.web_app} -w {args.web_workers} --threads {args.web_threads} "
        "--worker-class gthread --keep-alive 30`"
    )
    web = children.start("web", web_argv)
    wait_http(f"http://{HOST}:{web_port}/healthz", web)

    say("warming up the web workers")
    warm = make_messages("warm", 400, seed=1)
    sign_requests(warm, "bench-ingest", web_port)
    warmed = send(web_port, warm, concurrency=16, limit=60)
    if warmed.count(202) != len(warm):
        raise BenchError(f"warm-up failed: {warmed.errors}")

    report["ingest"] = []
    report["cpu"] = {}
    ingest_bodies: list[bytes] = []
    for level in args.levels:
        messages = make_messages(f"c{level}", args.ingest_messages, seed=level)
        sign_requests(messages, "bench-ingest", web_port)
        ingest_bodies += [m.body for m in messages]
        say(f"ingest at concurrency {level}: {len(messages)} messages")
        before = meter.sample()
        result = send(web_port, messages, concurrency=level, limit=args.phase_seconds)
        after = meter.sample()
        children.check()
        ok = [lat for lat, s in zip(result.latencies, result.statuses, strict=True) if s == 202]
        sent = sum(1 for s in result.statuses if s != 0)
        verified = verify_stored(conn, ids["bench-ingest"], messages, result)
        conn.commit()
        level_report = {
            "concurrency": level,
            "messages": sent,
            "accepted": result.count(202),
            "rate": len(ok) / result.elapsed,
            "p50": percentile(ok, 0.50),
            "p95": percentile(ok, 0.95),
            "p99": percentile(ok, 0.99),
            "errors": result.errors,
            "verified": verified,
        }
        report["ingest"].append(level_report)
        report["cpu"][f"ingest, concurrency {level}"] = cpu_split(before, after)
        say(f"   cores: {format_split(report['cpu'][f'ingest, concurrency {level}'])}")
        say(
            f"   {level_report['rate']:,.0f} msg/s, p50 {fmt_ms(level_report['p50'])}, "
            f"p95 {fmt_ms(level_report['p95'])}, p99 {fmt_ms(level_report['p99'])}; "
            f"stored {verified['stored']}/{verified['accepted']} (events {verified['events']}, "
            f"work items {verified['work_items']})"
            + (f"; errors: {result.errors}" if result.errors else "")
        )
        if verified["stored"] != verified["accepted"]:
            raise BenchError(f"acknowledged messages missing from the database: {verified}")

    # --- 2. COPY ceiling ----------------------------------------------------------------------
    rows = args.copy_rows or len(ingest_bodies)
    say(f"COPY ceiling: {rows} rows")
    report["copy"] = copy_ceiling(conn, ids["bench-ingest"], ingest_bodies, rows)
    copy_rate = report["copy"]["rate"]
    say(f"   {report['copy']['rate']:,.0f} rows/s")
    for level in report["ingest"]:
        say(f"   concurrency {level['concurrency']}: ingest/COPY {level['rate'] / copy_rate:.3f}")
    if args.skip_e2e:
        return

    # --- 3. End to end ------------------------------------------------------------------------
    # The ingest phase's work items would be processed too: they are dropped (their
    # transactions stay, as history), and the doorbells they rang are flushed from Redis.
    conn.execute("DELETE FROM pipeline_workitem")
    conn.commit()
    conn.autocommit = True
    conn.execute("VACUUM ANALYZE pipeline_workitem")
    conn.execute("ANALYZE pipeline_transaction")
    conn.autocommit = False
    redis.Redis.from_url(children.env["REDIS_URL"]).flushdb()

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
            str(args.sandbox_threads),
            "--worker-class",
            "gthread",
            "--keep-alive",
            "30",
        ],
    )
    report["sandbox"] = (
        f"`gunicorn hubconsole.sandbox_wsgi:application -w {args.sandbox_workers} "
        f"--threads {args.sandbox_threads}`"
    )
    layouts = {
        # name: [(child name, queues, concurrency)]
        "shared": [("workers", "processing,delivery,maintenance", 2)],
        "split": [
            ("workers (processing)", "processing,maintenance", 1),
            ("workers (delivery)", "delivery", 1),
        ],
    }
    workers = []
    for name, queues, concurrency in layouts[args.worker_layout]:
        workers.append(
            children.start(
                name,
                [
                    str(BIN / "celery"),
                    "-A",
                    args.celery_app,
                    "worker",
                    "-Q",
                    queues,
                    "-c",
                    str(concurrency),
                    "-n",
                    f"bench-{len(workers)}-{os.getpid()}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-l",
                    "INFO",
                ],
            )
        )
    if args.worker_layout == "shared":
        report["workers"] = (
            f"one `celery -A {args.celery_app} worker -c 2 -Q processing,delivery,maintenance` "
            "(prefork: 2 pool processes; maintenance carries the 5 s sweeper) plus `celery beat`"
        )
    else:
        report["workers"] = (
            f"two `celery -A {args.celery_app} worker -c 1`, one on `-Q processing,maintenance` "
            "and one on `-Q delivery` (maintenance carries the 5 s sweeper), plus `celery beat`"
        )
    children.start(
        "beat",
        [
            str(BIN / "celery"),
            "-A",
            args.celery_app,
            "beat",
            "-s",
            str(children.log_dir / "beat-schedule"),
            "-l",
            "INFO",
        ],
    )
    wait_http(f"{sandbox_url}/healthz", sandbox)
    for worker in workers:
        wait_log(worker, r"ready\.")

    report["e2e"] = []
    vacuumer = None
    if args.vacuum_seconds > 0:
        vacuumer = Vacuumer(children.env["DATABASE_URL"], args.vacuum_seconds)
        vacuumer.start()
    report["vacuum"] = (
        f"the benchmark VACUUMed pipeline_workitem every {args.vacuum_seconds:g} s"
        if vacuumer
        else "the benchmark did not VACUUM (`--vacuum-seconds` 0)"
    )
    try:
        _end_to_end(args, children, conn, meter, ids, web_port, report)
    finally:
        if vacuumer is not None:
            vacuumer.halt.set()
            vacuumer.join(30)


def _end_to_end(args, children, conn, meter, ids, web_port, report) -> None:
    def run_once(name: str, slug: str, messages: list[Message], rate: float | None) -> dict:
        sign_requests(messages, slug, web_port)
        say(
            f"end to end, {name}: {len(messages)} messages "
            + (f"at {rate:,.0f} msg/s" if rate else "as fast as accepted")
        )
        before = meter.sample()
        result = send(
            web_port,
            messages,
            concurrency=args.e2e_concurrency,
            rate=rate,
            # A paced run takes len/rate seconds; signatures stay valid for 300 s.
            limit=min(280.0, max(args.phase_seconds, 1.5 * len(messages) / rate))
            if rate
            else args.phase_seconds,
        )
        sent = sum(1 for s in result.statuses if s != 0)
        say(
            f"   sent {sent} in {result.elapsed:.1f} s ({sent / result.elapsed:,.0f} msg/s), "
            f"{result.count(202)} accepted"
            + (f"; errors: {result.errors}" if result.errors else "")
        )
        settled = wait_settled(conn, children, result.count(202), limit=args.settle_seconds)
        after = meter.sample()
        conn.commit()
        figures = e2e_figures(conn, ids[slug])
        conn.commit()
        sent_rate = sent / result.elapsed
        report["e2e"].append(
            {
                "name": name,
                "messages": result.count(202),
                "sent_rate": sent_rate,
                "paced": rate,
                "sustained": sustained(figures, sent_rate) if rate else None,
                "settled": settled,
                "figures": figures,
                "batches": figures["batches"],
            }
        )
        report["cpu"][f"end to end, {name}"] = cpu_split(before, after)
        say(f"   cores: {format_split(report['cpu'][f'end to end, {name}'])}")
        say(
            f"   delivered {figures['delivered']} at {figures['throughput']:,.0f} msg/s, "
            f"latency p50 {fmt_s(figures['p50'])}, p95 {fmt_s(figures['p95'])}, "
            f"p99 {fmt_s(figures['p99'])}; first/last tenth p50 "
            f"{fmt_s(figures['first_tenth_p50'])}/{fmt_s(figures['last_tenth_p50'])}; "
            f"inbound {figures['inbound_status']}"
            + ("" if settled else " (NOT settled within the time limit)")
        )
        return report["e2e"][-1]

    calibration = make_messages("cal", args.calibration_messages, seed=101)
    capacity = run_once("calibration burst", "bench-calibrate", calibration, None)
    capacity = capacity["figures"]["throughput"]
    if args.e2e_rate != "auto":
        rate = float(args.e2e_rate)
    else:
        # Step down from a fraction of the burst's throughput until a short probe shows no
        # growing backlog; the main run then uses the last rate that held.
        rate = round(args.e2e_rate_factor * capacity, 1)
        for probe in range(1, args.probes + 1):
            messages = make_messages(f"probe{probe}", args.probe_messages, seed=300 + probe)
            result = run_once(f"probe {probe}", f"bench-probe-{probe}", messages, rate)
            if result["sustained"]:
                break
            rate = round(rate * 0.8, 1)
    main = make_messages("e2e", args.messages, seed=202)
    run_once("main run", "bench-e2e", main, rate)

    report["duplicates"] = duplicate_postings(conn)
    report["queue"] = queue_health(conn)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = {
        **os.environ,
        "DATABASE_URL": os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        "REDIS_URL": os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL,
        "HUBCONSOLE_MODE": "test",
        "HUBCONSOLE_SANDBOX_ENABLED": "true",
        "PYTHONUNBUFFERED": "1",
        SECRET_ENV: SECRET,
    }
    require_local(env)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    log_dir = ROOT / "var" / "bench" / stamp
    log_dir.mkdir(parents=True, exist_ok=True)
    children = Children(env, log_dir)
    report: dict = {
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "command": ".venv/bin/python bench/pipeline.py"
        + "".join(" " + shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
        "client": "raw asyncio streams in one process, HTTP/1.1 keep-alive, requests pre-built "
        "and pre-signed before each phase",
    }

    def stop_on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_on_signal)
    started = time.monotonic()
    say(f"logs of the processes started: {log_dir}")
    try:
        run(args, children, env, report)
    except BenchError as error:
        say(f"benchmark failed: {error}")
        return 1
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    finally:
        say("stopping every process the benchmark started")
        children.stop_all()

    if args.skip_e2e:
        say(f"total time {time.monotonic() - started:.0f} s")
        return 0
    report["interpretation"] = interpret(report)
    section = render(report)
    print("\n" + section)
    if not args.no_docs:
        write_docs_section(SECTION, section)
        say(f"updated {DOCS.relative_to(ROOT)}")
    say(f"total time {time.monotonic() - started:.0f} s")
    problems = verification_problems(report)
    for problem in problems:
        say(f"VERIFICATION FAILED: {problem}")
    return 1 if problems else 0


def verification_problems(report: dict) -> list[str]:
    problems = []
    duplicates = report["duplicates"]["repeated_documents"]
    if duplicates:
        problems.append(f"{duplicates} documents were posted to the sandbox more than once")
    for run in report["e2e"]:
        delivered = run["figures"]["delivered"]
        if not run["settled"] or delivered != run["messages"]:
            problems.append(
                f"{run['name']}: {delivered} of {run['messages']} accepted messages delivered"
            )
    return problems


if __name__ == "__main__":
    sys.exit(main())
