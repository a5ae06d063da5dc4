"""Time the dashboard selectors on a scratch database of a million transactions.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hubconsole_dash_bench \\
    REDIS_URL=redis://127.0.0.1:6379/9 HUBCONSOLE_MODE=test \\
    .venv/bin/python -m tests.dashboards.bench_selectors [--days 90] [--reseed]

The database must be a scratch one (its name must contain "dash" and "bench"): it is
migrated, filled by SQL generate_series (1,000,000 transactions spread evenly over ``--days``
days ending now, one received event each, 50,000 suppressed duplicates, 100,000 open
exceptions, 100,000 invoices, 5,000 pending work items), vacuumed and analysed; then every
selector runs for every window and the median, best and worst of the runs are printed, with
the rows each window covers and the plan of the largest query. Not collected by pytest.
"""

import argparse
import os
import statistics
import sys
import time


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hubconsole.settings")
    import django

    django.setup()


SEED_SQL = """
INSERT INTO connectors_connector
    (slug, name, kind, format, document_type, settings, enabled, paused, rate_limit_per_second,
     rate_limit_burst, timeout_seconds, concurrency, max_attempts, backoff_base_seconds,
     backoff_cap_seconds, breaker_threshold, breaker_cooldown_seconds, poll_interval_seconds,
     created_at, updated_at)
SELECT 'bench-' || n, 'Bench ' || n, CASE WHEN n <= 4 THEN 'webhook_in' ELSE 'rest_out' END,
       'json', 'purchase_order', '{}', true, false, NULL, 10, 10, 4, 8, 2, 300, 20, 30, 30,
       now(), now()
FROM generate_series(1, 6) n
ON CONFLICT (slug) DO NOTHING;

INSERT INTO masterdata_supplier (code, name, normalized_name, status, tax_id, payment_terms,
                                 effective_from, effective_to)
SELECT 'BENCH-' || n, 'Bench supplier ' || n, 'bench supplier ' || n, 'active', '', '',
       DATE '2020-01-01', NULL
FROM generate_series(1, 200) n
ON CONFLICT (code) DO NOTHING;

-- Rows arrive in time order, as they do in production (the BRIN index relies on it).
INSERT INTO pipeline_transaction
    (connector_id, direction, format, document_type, status, idempotency_key, content_sha256,
     raw, raw_size, canonical, correlation_id, document_id, revision, parent_id,
     duplicate_of_id, attempts, last_error_code, last_error, metadata, received_at,
     completed_at, updated_at)
SELECT c.id, CASE WHEN g %% 5 < 3 THEN 'in' ELSE 'out' END, 'json', 'purchase_order',
       CASE WHEN g %% 50 = 0 THEN 'exception' WHEN g %% 97 = 0 THEN 'retrying'
            ELSE 'completed' END,
       'bench:' || g, md5(g::text) || md5(g::text), '\\x7b7d'::bytea, 2, NULL,
       'bench-' || g, 'DOC-' || g, 1, NULL, NULL, 1, '', '', '{}', r.at,
       CASE WHEN g %% 50 = 0 OR g %% 97 = 0 THEN NULL
            -- mostly sub-second, one in a hundred minutes late (a retry after an outage)
            ELSE r.at + make_interval(secs => -ln(1 - random()) * CASE WHEN g %% 100 = 1
                                                                   THEN 600 ELSE 0.4 END)
       END,
       r.at
FROM generate_series(1, %(total)s) g
CROSS JOIN LATERAL (
    SELECT now() - %(days)s * interval '1 day' * (1 - g::float8 / %(total)s) AS at
) r
JOIN connectors_connector c ON c.slug = 'bench-' || (1 + g %% 6);

INSERT INTO pipeline_transactionevent (transaction_id, kind, at, code, message, detail)
SELECT id, 'received', received_at, '', '', '{}' FROM pipeline_transaction;

INSERT INTO pipeline_transactionevent (transaction_id, kind, at, code, message, detail)
SELECT id, 'duplicate_suppressed', received_at + interval '3 minutes', '', '', '{}'
FROM pipeline_transaction WHERE id %% 20 = 0 AND received_at < now() - interval '3 minutes';

WITH codes AS (
    SELECT row_number() OVER (ORDER BY code) - 1 AS n, code, owning_team_id, severity
    FROM exceptions_exceptioncode
), tx AS (
    SELECT id, received_at, row_number() OVER (ORDER BY id) AS g
    FROM pipeline_transaction WHERE id %% 10 = 0
)
INSERT INTO exceptions_businessexception
    (code_id, team_id, severity, status, transaction_id, correlation_id, root_cause_key,
     summary, details, supplier, facility, amount, document, occurrences, assignee_id,
     opened_at, last_seen_at, due_at, resolved_at, resolution)
SELECT codes.code, codes.owning_team_id, codes.severity,
       CASE WHEN tx.g %% 3 = 0 THEN 'in_progress' ELSE 'open' END, tx.id, '',
       'bench:' || tx.g, 'bench exception', '{}',
       CASE WHEN tx.g %% 4 = 0 THEN '' ELSE 'BENCH-' || (1 + tx.g %% 200) END,
       CASE WHEN tx.g %% 5 = 0 THEN '' ELSE 'FAC-' || (1 + tx.g %% 30) END,
       NULL, '', 1, NULL, tx.received_at, tx.received_at, tx.received_at + interval '2 days',
       NULL, ''
FROM tx JOIN codes ON codes.n = tx.g %% (SELECT count(*) FROM codes);

INSERT INTO p2p_invoice
    (supplier_id, invoice_number, kind, status, purchase_order_id, invoice_date, currency,
     lines_amount, charges_amount, tax_amount, total_amount, match_result, matched_at,
     source_transaction_id, channel, correlation_id, accepted_variances, accepted_by_id,
     accepted_at, accepted_reason, created_at, updated_at)
SELECT s.id, 'INV-' || t.id, 'invoice',
       CASE WHEN t.id %% 100 < 5 THEN 'waiting_receipt' WHEN t.id %% 100 < 15 THEN 'exception'
            WHEN t.id %% 100 < 60 THEN 'vouchered' ELSE 'matched' END,
       NULL, t.received_at::date, 'USD', 100, 0, 0, 100, '{}',
       CASE WHEN t.id %% 100 >= 15 THEN t.received_at + interval '2 seconds' END,
       t.id, 'bench', t.correlation_id, '[]', NULL, NULL, '',
       t.received_at, t.received_at + interval '2 seconds'
FROM pipeline_transaction t
JOIN masterdata_supplier s ON s.code = 'BENCH-' || (1 + t.id %% 200)
WHERE t.id %% 10 IN (0, 5) AND t.direction = 'in';

INSERT INTO pipeline_workitem
    (transaction_id, stage, connector_id, available_at, leased_until, lease_owner,
     open_claims, actor_id, created_at)
SELECT id, CASE WHEN id %% 2 = 0 THEN 'process' ELSE 'deliver' END, connector_id,
       now() + make_interval(secs => (id %% 7 - 3) * 20), NULL, '', 0, NULL, received_at
FROM pipeline_transaction WHERE completed_at IS NULL ORDER BY id DESC LIMIT 5000;
"""


def _count(cursor, sql: str) -> int:
    cursor.execute(sql)
    return cursor.fetchone()[0]


def seed(*, days: int, total: int) -> None:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(SEED_SQL, {"days": days, "total": total})
    print(f"seeded in {time.perf_counter() - started:.0f} s")
    connection.connection.autocommit = True
    with connection.cursor() as cursor:
        for table in (
            "pipeline_transaction",
            "pipeline_transactionevent",
            "exceptions_businessexception",
            "p2p_invoice",
            "pipeline_workitem",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")


def _time(function, runs: int) -> list[float]:
    took = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        took.append((time.perf_counter() - started) * 1000)
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()
    _setup()

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    name = settings.DATABASES["default"]["NAME"]
    if "dash" not in name or "bench" not in name:
        print(f"refusing to fill {name!r}: use a scratch database named *dash*bench*")
        return 2
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        existing = _count(cursor, "SELECT count(*) FROM pipeline_transaction")
        if args.reseed and existing:
            cursor.execute(
                "TRUNCATE pipeline_workitem, p2p_invoice, exceptions_exceptionactivity, "
                "exceptions_businessexception, pipeline_transactionevent, "
                "pipeline_transactionkey, pipeline_transaction CASCADE"
            )
            existing = 0
    if not existing:
        seed(days=args.days, total=args.total)

    from apps.dashboards import selectors
    from apps.dashboards.windows import WINDOW_CHOICES, window_get

    with connection.cursor() as cursor:
        for label, sql in (
            ("transactions", "SELECT count(*) FROM pipeline_transaction"),
            ("transaction events", "SELECT count(*) FROM pipeline_transactionevent"),
            (
                "open exceptions",
                "SELECT count(*) FROM exceptions_businessexception "
                "WHERE status IN ('open', 'in_progress')",
            ),
            ("invoices", "SELECT count(*) FROM p2p_invoice"),
            ("work items", "SELECT count(*) FROM pipeline_workitem"),
            ("transactions table", "SELECT pg_total_relation_size('pipeline_transaction')"),
        ):
            print(f"{label}: {_count(cursor, sql):,}")
        cursor.execute("SHOW server_version")
        print("PostgreSQL", cursor.fetchone()[0])

    print(f"\n{'selector':32} {'window':>6} {'rows':>9} {'median':>9} {'best':>9} {'worst':>9}")
    for choice in WINDOW_CHOICES:
        window = window_get(key=choice.key)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pipeline_transaction WHERE received_at >= %s",
                [window.start],
            )
            rows = cursor.fetchone()[0]
        for name_, function in (
            (
                "transaction_flow_series",
                lambda w=window: selectors.transaction_flow_series(window=w),
            ),
            ("latency_series", lambda w=window: selectors.latency_series(window=w)),
            ("queue_depth_now", selectors.queue_depth_now),
            (
                "exceptions_opened_series",
                lambda w=window: selectors.exceptions_opened_series(window=w),
            ),
            (
                "touchless_invoice_series",
                lambda w=window: selectors.touchless_invoice_series(window=w),
            ),
            (
                "duplicates_suppressed_series",
                lambda w=window: selectors.duplicates_suppressed_series(window=w),
            ),
            ("dashboard_get (all)", lambda k=choice.key: selectors.dashboard_get(window_key=k)),
        ):
            took = _time(function, args.runs)
            print(
                f"{name_:32} {choice.key:>6} {rows:>9,} {statistics.median(took):>7.1f}ms "
                f"{min(took):>7.1f}ms {max(took):>7.1f}ms"
            )

    from django.contrib.auth.models import User

    user, _ = User.objects.get_or_create(username="bench-dash", defaults={"is_superuser": True})
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    for choice in WINDOW_CHOICES:
        took = _time(lambda k=choice.key: client.get("/dashboards/", {"window": k}), args.runs)
        print(
            f"{'whole page (HTTP, rendered)':32} {choice.key:>6} {'':>9} "
            f"{statistics.median(took):>7.1f}ms {min(took):>7.1f}ms {max(took):>7.1f}ms"
        )

    window = window_get(key="30d")
    with connection.cursor() as cursor:
        for label, sql, params in (
            (
                "flow, 30 days",
                selectors._FLOW_SQL,
                {**window.sql_params(), "in": "in"},
            ),
            ("latency, 30 days", selectors._LATENCY_SQL, window.sql_params()),
            ("exceptions, 30 days", selectors._EXCEPTIONS_SQL, {**window.sql_params(), "top": 5}),
            (
                "touchless, 30 days",
                selectors._TOUCHLESS_SQL,
                {
                    **window.sql_params(),
                    "matched": [str(s) for s in selectors.MATCHED_STATUSES],
                    "decided": [str(s) for s in selectors.DECIDED_STATUSES],
                },
            ),
        ):
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            print(f"\n--- plan: {label}")
            for (line,) in cursor.fetchall():
                print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
