"""Master-data lookup benchmark: resolving a batch of 10,000 external codes with lookup_many.

    .venv/bin/python bench/lookup.py [--batch 10000] [--repeats 25] [--extra-xrefs 40000] ...

What it does, in this process, on this machine (see bench/README.md):

1. Drops and recreates its own database (the name must contain "bench"), flushes the Redis
   database in REDIS_URL, migrates, and loads the demo network with the start command's
   generator (timed, and timed again for the second, idempotent run). ``--extra-xrefs`` more
   approved cross-references of a bench-only system make the table larger than the batch.
2. Draws a batch of distinct approved keys (fixed seed) across every system and entity type,
   and a mixed batch in which ~5 % of the keys have no mapping.
3. Cold: the lookup cache emptied before each call (a new generation, as after a master-data
   change), so every key goes to PostgreSQL in the one statement; the statement's own time
   from EXPLAIN ANALYZE and its round trip (execute + fetch) are measured apart. Warm: the
   same batch again with the cache filled. Median, p95 and extremes over ``--repeats`` calls.
4. Prints the figures and replaces its section of docs/benchmarks.md (``--no-docs``: not).

It starts no process. At the end it drops its database (``--keep-db`` keeps it) and flushes
its Redis database again. Every loop is bounded by ``--repeats``.
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
import statistics
import subprocess
import sys
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import (  # noqa: E402 (needs ROOT on path)
    DOCS,
    BenchError,
    close_and_drop,
    database_name,
    fmt_ms,
    recreate_database,
    say,
    use_environment,
    write_docs_section,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/hubconsole_bench_lookup"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
SECTION = "## Master data: batch lookup"
TARGET_WARM = 0.100  # seconds for a warm batch of 10,000 keys
BENCH_SYSTEM = "BENCH-LEGACY"
MISS_SHARE = 0.05


# --- Database and environment -------------------------------------------------------------------


def prepare_environment() -> dict:
    """The settings are read from the environment when Django starts: set them first."""
    env = {
        "DATABASE_URL": os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        "REDIS_URL": os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL,
        "HUBCONSOLE_MODE": "test",
        "HUBCONSOLE_SANDBOX_ENABLED": "true",
    }
    use_environment(env)
    return env


def machine_facts() -> dict:
    from django.db import connection

    meminfo = Path("/proc/meminfo").read_text()
    kib = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
        cursor.execute("SHOW shared_buffers")
        buffers = cursor.fetchone()[0]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "ram": f"{kib / 1024 / 1024:.1f} GiB",
        "cpu": cpu.group(1).strip() if cpu else platform.processor(),
        "postgres": version,
        "shared_buffers": buffers,
        "python": platform.python_version(),
        "commit": commit or "?",
    }


# --- Data ---------------------------------------------------------------------------------------


def load_network(report: dict) -> None:
    from django.core.management import call_command

    from apps.accounts.services import demo_users_ensure
    from apps.sandbox.demo_network import demo_network_build

    say("migrating")
    call_command("migrate", verbosity=0, interactive=False)
    # The start command creates the demo users (demo_setup) before the network: timed apart,
    # since hashing their passwords (PBKDF2) is not the generator's work.
    started = time.monotonic()
    demo_users_ensure()
    users = time.monotonic() - started
    say("loading the demo network (first run, then the idempotent second run)")
    first = demo_network_build()
    second = demo_network_build()
    if sum(second.created.values()):
        raise BenchError(f"the second run of the generator created rows: {second.created}")
    report["generator"] = {
        "users": users,
        "first": first.seconds,
        "second": second.seconds,
        "rows": sum(first.created.values()),
        "network": first.line().split("; ")[0].removeprefix("demo network: "),
    }
    say(f"   {first.line()}")
    say(f"   second run: {second.seconds:.2f} s, nothing created")


def add_extra_cross_references(count: int) -> None:
    """``count`` approved mappings of a bench-only system onto items, charge codes, suppliers
    and cost centers, so that the table is larger than any batch."""
    from django.contrib.auth.models import User
    from django.contrib.contenttypes.models import ContentType
    from django.utils import timezone

    from apps.masterdata import models as md

    if count <= 0:
        return
    system = md.ExternalSystem.objects.create(code=BENCH_SYSTEM, name="Bench legacy system")
    proposer, approver = User.objects.get(username="erin"), User.objects.get(username="sam")
    shares = (
        ("item", md.Item, 0.6),
        ("charge_code", md.ChargeCode, 0.3),
        ("supplier", md.Supplier, 0.05),
        ("cost_center", md.CostCenter, 0.05),
    )
    now = timezone.now()
    rows = []
    for entity_type, model, share in shares:
        ids = list(model.objects.order_by("pk").values_list("pk", flat=True))
        content_type = ContentType.objects.get_for_model(model)
        for n in range(round(count * share)):
            rows.append(
                md.CrossReference(
                    external_system=system,
                    entity_type=entity_type,
                    external_code=f"LEG-{entity_type[:2].upper()}-{n:07d}",
                    content_type=content_type,
                    object_id=ids[n % len(ids)],
                    effective_from=md.BEGINNING,
                    status="approved",
                    created_by=proposer,
                    decided_by=approver,
                    decided_at=now,
                )
            )
    md.CrossReference.objects.bulk_create(rows, batch_size=5000)


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def batches(size: int, seed: int):
    """A batch of ``size`` distinct approved keys, and a mixed batch (same size) in which
    ~5 % of the keys have no mapping."""
    from apps.masterdata.lookup import LookupKey
    from apps.masterdata.models import CrossReference

    approved = list(
        CrossReference.objects.filter(status="approved")
        .order_by("pk")
        .values_list("external_system__code", "entity_type", "external_code")
    )
    if len(approved) < size:
        raise BenchError(f"only {len(approved):,} approved keys for a batch of {size:,}")
    rng = random.Random(seed)
    hits = [LookupKey(*row) for row in rng.sample(approved, size)]
    misses = round(size * MISS_SHARE)
    systems = sorted({row[0] for row in approved})
    types = ["supplier", "item", "charge_code", "cost_center", "facility"]
    mixed = hits[: size - misses] + [
        LookupKey(rng.choice(systems), rng.choice(types), f"UNMAPPED-{n:06d}")
        for n in range(misses)
    ]
    rng.shuffle(mixed)
    return hits, mixed, len(approved)


# --- Measuring ----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(v for v in values if not math.isnan(v))
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summary(values: list[float]) -> dict:
    return {
        "n": len(values),
        "median": statistics.median(values),
        "p95": percentile(values, 0.95),
        "min": min(values),
        "max": max(values),
    }


def _params(keys, on) -> dict:
    from apps.masterdata.lookup import CANONICAL

    return {
        "systems": [k.system for k in keys],
        "types": [k.entity_type for k in keys],
        "codes": [k.code for k in keys],
        "on": on,
        "canonical": CANONICAL,
    }


def statement_alone(keys, on, repeats: int) -> dict:
    """The one statement's own time (EXPLAIN ANALYZE: server side, no transfer) and its round
    trip from this process (execute + fetch of every row), without the Python around it."""
    from django.db import connection

    from apps.masterdata.lookup import _LOOKUP_SQL  # the statement lookup_many sends

    params = _params(keys, on)
    executions, plannings, round_trips = [], [], []
    access: set[str] = set()
    rows = 0
    with connection.cursor() as cursor:
        for _ in range(repeats):
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + _LOOKUP_SQL, params)
            plan = cursor.fetchone()[0]
            plan = plan[0] if isinstance(plan, list) else plan
            executions.append(plan["Execution Time"] / 1000)
            plannings.append(plan["Planning Time"] / 1000)
            access |= _xref_access(plan["Plan"])
            started = time.perf_counter()
            cursor.execute(_LOOKUP_SQL, params)
            rows = len(cursor.fetchall())
            round_trips.append(time.perf_counter() - started)
    return {
        "execution": summary(executions),
        "planning": summary(plannings),
        "round_trip": summary(round_trips),
        "xref_access": sorted(access),
        "rows": rows,
    }


def _xref_access(node: dict, parent: str = "") -> set[str]:
    """How the plan reads the cross-reference table: the scan, and the join above it."""
    found = set()
    if node.get("Relation Name") == "masterdata_crossreference":
        index = f" using {node['Index Name']}" if "Index Name" in node else ""
        found.add(f"{node['Node Type']}{index} under {parent or 'nothing'}")
    for child in node.get("Plans", []):
        found |= _xref_access(
            child,
            node["Node Type"]
            if "Join" in node["Node Type"] or node["Node Type"] == "Nested Loop"
            else parent,
        )
    return found


def timed_lookups(keys, on, repeats: int, *, cold: bool) -> tuple[dict, dict]:
    """``repeats`` calls of lookup_many on the batch; cold empties the cache before each."""
    from apps.masterdata import cache
    from apps.masterdata.lookup import lookup_many

    times = []
    answers = {}
    if not cold:
        lookup_many(keys, on=on)  # fills the cache
    for _ in range(repeats):
        if cold:
            cache.bump()
        started = time.perf_counter()
        answers = lookup_many(keys, on=on)
        times.append(time.perf_counter() - started)
    return summary(times), answers


def first_call(keys, on) -> tuple[float, dict]:
    from apps.masterdata import cache
    from apps.masterdata.lookup import lookup_many

    cache.bump()
    started = time.perf_counter()
    answers = lookup_many(keys, on=on)
    return time.perf_counter() - started, answers


def outcome(answers: dict) -> dict:
    misses: dict[str, int] = {}
    for answer in answers.values():
        if not answer.ok:
            misses[answer.miss] = misses.get(answer.miss, 0) + 1
    return {"keys": len(answers), "resolved": len(answers) - sum(misses.values()), "misses": misses}


def measure(args, report: dict) -> None:
    from django.utils import timezone

    from apps.masterdata import cache

    if cache.current_generation() is None:
        raise BenchError("Redis cannot be reached: the lookup cache would be bypassed")
    on = timezone.localdate()
    hits, mixed, approved = batches(args.batch, args.seed)
    report["approved_keys"] = approved
    report["batch"] = args.batch
    report["repeats"] = args.repeats
    say(f"batch of {args.batch:,} distinct keys drawn from {approved:,} approved ones")

    seconds, answers = first_call(hits, on)
    report["first_call"] = seconds
    report["hits_outcome"] = outcome(answers)
    say(f"   first call (empty cache): {fmt_ms(seconds)}; {report['hits_outcome']}")
    for name, keys in (("hits", hits), ("mixed", mixed)):
        cold, answers = timed_lookups(keys, on, args.repeats, cold=True)
        warm, _ = timed_lookups(keys, on, args.repeats, cold=False)
        alone = statement_alone(keys, on, max(3, args.repeats // 2))
        report[name] = {"cold": cold, "warm": warm, "statement": alone, "outcome": outcome(answers)}
        say(
            f"   {name}: cold median {fmt_ms(cold['median'])} (p95 {fmt_ms(cold['p95'])}), "
            f"warm median {fmt_ms(warm['median'])} (p95 {fmt_ms(warm['p95'])}); statement "
            f"{fmt_ms(alone['execution']['median'])} + planning "
            f"{fmt_ms(alone['planning']['median'])}, round trip "
            f"{fmt_ms(alone['round_trip']['median'])}; {report[name]['outcome']}"
        )


# --- Report -------------------------------------------------------------------------------------


def _row(label: str, figures: dict, target: str = "") -> str:
    return (
        f"| {label} | {figures['n']} | **{fmt_ms(figures['median'])}** | "
        f"{fmt_ms(figures['p95'])} | {fmt_ms(figures['min'])} | {fmt_ms(figures['max'])} | "
        f"{target} |"
    )


def render(report: dict) -> str:
    m = report["machine"]
    g = report["generator"]
    batch = report["batch"]
    hits, mixed = report["hits"], report["mixed"]
    warm_ok = hits["warm"]["p95"] < TARGET_WARM and mixed["warm"]["p95"] < TARGET_WARM
    lines = [
        SECTION,
        "",
        f"Measured {report['date']} by `bench/lookup.py` (how to run it: `bench/README.md`), "
        f"at commit `{m['commit']}`.",
        "",
        f"- Machine: {m['nproc']} cores ({m['cpu']}), {m['ram']} RAM, PostgreSQL "
        f"{m['postgres']} (shared_buffers {m['shared_buffers']}), Python {m['python']}; "
        "the benchmark process and PostgreSQL share the cores, and the machine is shared "
        f"with other users (load average {report['load'][0]:.2f} before, "
        f"{report['load'][1]:.2f} after).",
        f"- Command: `{report['command']}`",
        f"- Data: the demo network of `apps/sandbox/demo_network.py` ({g['network']}) plus "
        f"{report['extra']:,} approved mappings of a bench-only system: "
        f"**{report['approved_keys']:,} approved cross-references** in all.",
        f"- The generator itself (as the start command runs it, demo users existing): first "
        f"run {g['first']:.1f} s ({g['rows']:,} rows, the second steward's password hash and "
        f"the duplicate scan included), second run {g['second']:.2f} s (nothing created). "
        f"Creating the 8 demo users beforehand took {g['users']:.1f} s.",
        f"- Batch: {batch:,} distinct keys drawn at random (seed {report['seed']}) from all "
        f"approved keys, every system and entity type; the mixed batch replaces "
        f"{MISS_SHARE:.0%} of them with codes that have no mapping.",
        "- *Cold*: the lookup cache emptied before each call (a new generation, as after any "
        "master-data change), so every key goes to PostgreSQL in the one statement. *Warm*: "
        "the same batch again, every answer cached in the process (one Redis GET for the "
        "generation). Times are wall-clock around `lookup_many`, in this process.",
        "",
        f"| {batch:,} keys | calls | median | p95 | min | max | target |",
        "|---|---:|---:|---:|---:|---:|---|",
        f"| first call after loading (cold) | 1 | **{fmt_ms(report['first_call'])}** | | | | |",
        _row("cold, all mapped", hits["cold"]),
        _row(
            "warm, all mapped",
            hits["warm"],
            "warm < 100 ms: " + ("meets" if hits["warm"]["p95"] < TARGET_WARM else "below"),
        ),
        _row(f"cold, {MISS_SHARE:.0%} unmapped", mixed["cold"]),
        _row(
            f"warm, {MISS_SHARE:.0%} unmapped",
            mixed["warm"],
            "warm < 100 ms: " + ("meets" if mixed["warm"]["p95"] < TARGET_WARM else "below"),
        ),
        "",
        f"The one statement alone (median of {hits['statement']['execution']['n']} runs):",
        "",
        "| batch | execution (EXPLAIN ANALYZE) | planning | round trip (execute + fetch) | "
        "rows | how it reads the cross-references |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, label in (("hits", "all mapped"), ("mixed", f"{MISS_SHARE:.0%} unmapped")):
        s = report[name]["statement"]
        lines.append(
            f"| {label} | {fmt_ms(s['execution']['median'])} | "
            f"{fmt_ms(s['planning']['median'])} | {fmt_ms(s['round_trip']['median'])} | "
            f"{s['rows']:,} | {'; '.join(s['xref_access'])} |"
        )
    h, x = hits["outcome"], mixed["outcome"]
    cold_median = hits["cold"]["median"]
    in_statement = hits["statement"]["round_trip"]["median"]
    lines += [
        "",
        f"- Answers: all mapped: {h['resolved']:,} of {h['keys']:,} usable, misses "
        f"{_misses(h)} (the demo's planted blocked supplier and closed cost center, as "
        f"drawn); {MISS_SHARE:.0%} unmapped: {x['resolved']:,} usable, misses {_misses(x)}.",
        f"- Where a cold call's time goes: the statement's round trip is "
        f"{in_statement / cold_median:.0%} of it ({fmt_ms(in_statement)} of "
        f"{fmt_ms(cold_median)}); the rest is Python deciding each answer and filling the "
        f"cache ({fmt_ms(cold_median - in_statement)}, about "
        f"{(cold_median - in_statement) / batch * 1e6:.1f} µs per key).",
        f"- Verdict: warm batches of {batch:,} keys take "
        f"{fmt_ms(hits['warm']['median'])} (p95 {fmt_ms(hits['warm']['p95'])}): "
        + ("**meets** the 100 ms target" if warm_ok else "**below** the 100 ms target")
        + f"; a cold batch costs {fmt_ms(cold_median)}, once per master-data change per "
        "process.",
    ]
    return "\n".join(lines) + "\n"


def _misses(outcome: dict) -> str:
    if not outcome["misses"]:
        return "none"
    return ", ".join(f"{code} {n:,}" for code, n in sorted(outcome["misses"].items()))


# --- Main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=10_000, help="keys per batch")
    parser.add_argument("--repeats", type=int, default=25, help="calls per measurement")
    parser.add_argument(
        "--extra-xrefs",
        type=int,
        default=40_000,
        help="approved mappings of a bench-only system added to the demo network's ~7,800",
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the batch drawing")
    parser.add_argument("--no-docs", action="store_true", help="leave docs/benchmarks.md alone")
    parser.add_argument("--keep-db", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    if not 1 <= args.repeats <= 1000 or args.batch < 1:
        parser.error("--repeats must be 1-1000 and --batch at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = prepare_environment()
    report: dict = {
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "command": ".venv/bin/python bench/lookup.py"
        + "".join(" " + shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
        "seed": args.seed,
        "extra": max(0, args.extra_xrefs),
    }
    started = time.monotonic()
    redis_db = redis.Redis.from_url(env["REDIS_URL"])
    say(f"database {database_name(env['DATABASE_URL'])} (recreated), Redis {env['REDIS_URL']}")
    try:
        recreate_database(env["DATABASE_URL"])
        redis_db.flushdb()
        import django

        django.setup()
        report["load"] = [os.getloadavg()[0]]
        load_network(report)
        say(f"adding {report['extra']:,} approved mappings of {BENCH_SYSTEM}")
        add_extra_cross_references(report["extra"])
        analyze()
        report["machine"] = machine_facts()
        measure(args, report)
        report["load"].append(os.getloadavg()[0])
    except BenchError as error:
        say(f"benchmark failed: {error}")
        return 1
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    finally:
        close_and_drop(env["DATABASE_URL"], keep=args.keep_db)
        with contextlib.suppress(redis.RedisError):
            redis_db.flushdb()
            redis_db.close()

    section = render(report)
    print("\n" + section)
    if not args.no_docs:
        write_docs_section(SECTION, section)
        say(f"updated {DOCS.relative_to(ROOT)}")
    say(f"total time {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
