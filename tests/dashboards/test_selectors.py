"""Dashboard selectors: exact figures per bucket from rows seeded at known instants."""

import datetime

import pytest

from apps.accounts import roles
from apps.dashboards.selectors import (
    OTHERS,
    dashboard_get,
    duplicates_suppressed_series,
    exceptions_opened_series,
    latency_series,
    queue_depth_now,
    touchless_invoice_series,
    transaction_flow_series,
)
from apps.dashboards.windows import window_get
from tests.dashboards.conftest import (
    NOW,
    at,
    make_event,
    make_exception,
    make_invoice,
    make_tx,
    make_work,
    role_user,
)

pytestmark = pytest.mark.django_db

UTC = datetime.UTC


def day_window(key="24h", now=NOW, tz="UTC"):
    return window_get(key=key, now=now, tz=tz)


def by_hour(series, window) -> dict[int, object]:
    """The buckets with something in them, keyed by their UTC hour."""
    assert [b.start for b in series] == list(window.starts)
    return {b.start.hour: b for b in series}


def test_window_cuts_the_last_24_hours_into_hours_ending_with_the_current_one():
    window = day_window()

    assert len(window.starts) == 24
    assert window.starts[0] == at(13, day=9)
    assert window.starts[-1] == at(12)
    assert window.end == NOW
    assert window.ends[-1] == NOW
    assert window.ends[0] == at(14, day=9)


@pytest.mark.parametrize("key", [None, "", "1y", "24H", "<script>", "7d;drop", "%00"])
def test_window_unknown_keys_fall_back_to_24_hours(key):
    assert day_window(key).key == "24h"


def test_window_days_begin_at_local_midnight_across_a_dst_change():
    # Europe/Berlin moves to summer time on Sunday 29 March 2026: that day has 23 hours.
    window = window_get(
        key="7d", now=datetime.datetime(2026, 3, 31, 12, tzinfo=UTC), tz="Europe/Berlin"
    )

    assert [s.isoformat() for s in window.starts[3:6]] == [
        "2026-03-27T23:00:00+00:00",  # 28 March, midnight CET
        "2026-03-28T23:00:00+00:00",  # 29 March, midnight CET
        "2026-03-29T22:00:00+00:00",  # 30 March, midnight CEST
    ]


def test_window_hours_step_in_absolute_time_across_a_dst_change():
    window = window_get(
        key="24h", now=datetime.datetime(2026, 3, 29, 12, 10, tzinfo=UTC), tz="Europe/Berlin"
    )
    gaps = {b - a for a, b in zip(window.starts, window.starts[1:], strict=False)}
    assert gaps == {datetime.timedelta(hours=1)}
    assert window.starts[-1] == datetime.datetime(2026, 3, 29, 12, tzinfo=UTC)


@pytest.fixture
def flow(connector):
    """Transactions around the 24-hour window ending at NOW (12:30 UTC)."""
    make_tx(connector, received_at=at(10, 15), completed_at=at(10, 15, 2))  # 2 s
    make_tx(connector, received_at=at(10, 40), completed_at=at(11, 5))  # 25 min, next hour
    make_tx(connector, received_at=at(11, 10))  # stopped with an exception
    make_tx(connector, received_at=at(11, 20), completed_at=at(11, 20, 0.5), direction="out")
    make_tx(connector, received_at=at(12, 20), completed_at=at(12, 40))  # completes after NOW
    # Received before the window began: counts nowhere, even though it completed inside it.
    make_tx(connector, received_at=at(12, 59, day=9), completed_at=at(13, 30, day=9))
    # Twenty outbound deliveries at 08:00 taking 1, 2, ... 20 seconds.
    for seconds in range(1, 21):
        make_tx(
            connector,
            received_at=at(8, 0),
            completed_at=at(8, 0, seconds),
            direction="out",
        )


def test_flow_counts_received_and_completed_per_hour_and_direction(flow):
    window = day_window()
    buckets = by_hour(transaction_flow_series(window=window), window)

    figures = {
        hour: (b.received_in, b.completed_in, b.received_out, b.completed_out)
        for hour, b in buckets.items()
        if (b.received_in, b.completed_in, b.received_out, b.completed_out) != (0, 0, 0, 0)
    }
    assert figures == {8: (0, 0, 20, 20), 10: (2, 1, 0, 0), 11: (1, 1, 1, 1), 12: (1, 0, 0, 0)}


def test_flow_backlog_is_received_not_yet_completed_at_each_bucket_end(flow):
    window = day_window()
    buckets = by_hour(transaction_flow_series(window=window), window)

    open_in = {hour: b.open_in for hour, b in buckets.items()}
    assert open_in[13] == 0
    assert open_in[9] == 0
    # 10:00-11:00: two received, one completed. 11:00-12:00: one more stopped, the 10:40 one
    # completed. 12:00-now: one received that completes only after now.
    assert (open_in[10], open_in[11], open_in[12]) == (1, 1, 2)
    assert {b.open_out for b in buckets.values()} == {0}


def test_latency_percentiles_per_hour_of_completion(flow):
    window = day_window()
    buckets = by_hour(latency_series(window=window), window)

    assert (buckets[8].completed, buckets[8].p50, buckets[8].p95, buckets[8].p99) == (
        20,
        10.0,
        19.0,
        20.0,
    )
    assert (buckets[10].completed, buckets[10].p50, buckets[10].p99) == (1, 2.0, 2.0)
    # 11:00: the 25-minute one (completed 11:05) and the half-second delivery.
    assert (buckets[11].completed, buckets[11].p50, buckets[11].p95) == (2, 0.5, 1500.0)
    assert (buckets[12].completed, buckets[12].p50) == (0, None)
    assert buckets[13].p50 is None  # nothing completed: no figure, not zero


def test_queue_depth_now_per_stage(connector):
    def tx():
        return make_tx(connector, received_at=at(12, 0))

    make_work(tx(), stage="process", available_at=at(12, 10))
    make_work(tx(), stage="process", available_at=at(12, 20))
    make_work(tx(), stage="process", available_at=at(12, 20), leased_until=at(12, 31))
    make_work(tx(), stage="deliver", available_at=at(12, 35))  # a retry, due later
    make_work(tx(), stage="deliver", available_at=at(12, 0), leased_until=at(12, 29))  # lapsed

    depth = {s.stage: (s.in_progress, s.ready, s.scheduled) for s in queue_depth_now(now=NOW)}

    assert depth == {"process": (1, 2, 0), "deliver": (0, 1, 1)}


def test_queue_depth_lists_every_stage_even_when_empty(db):
    assert [(s.stage, s.total) for s in queue_depth_now(now=NOW)] == [
        ("process", 0),
        ("deliver", 0),
    ]


def test_duplicates_suppressed_per_hour(connector):
    original = make_tx(connector, received_at=at(9, 0, day=9), completed_at=at(9, 1, day=9))
    for when in (at(10, 5), at(10, 50), at(11, 59, 59.9), at(12, 59, day=9)):
        make_event(original, kind="duplicate_suppressed", when=when)
    make_event(original, kind="received", when=at(10, 5))

    window = day_window()
    buckets = by_hour(duplicates_suppressed_series(window=window), window)

    assert {hour: b.count for hour, b in buckets.items() if b.count} == {10: 2, 11: 1}


@pytest.fixture
def opened():
    for minute in (5, 10, 15):
        make_exception("SCHEMA_INVALID", opened_at=at(10, minute))
    for minute in (5, 10):
        make_exception(
            "PRICE_VARIANCE", opened_at=at(11, minute), supplier="SUP-1", facility="HOSP"
        )
    make_exception("QTY_VARIANCE", opened_at=at(11, 20), supplier="SUP-2", facility="HOSP")
    make_exception(
        "ITEM_UNKNOWN", opened_at=at(12, 10), supplier="SUP-3", facility="CLIN", status="resolved"
    )
    make_exception("DELIVERY_REJECTED", opened_at=at(12, 29, day=9), supplier="SUP-9")


def counts_by_hour(series, window) -> list[tuple[str, dict[int, int]]]:
    return [
        (s.name, {start.hour: n for start, n in zip(window.starts, s.counts, strict=True) if n})
        for s in series
    ]


def test_exceptions_opened_by_code_team_supplier_facility_with_others_folded(opened):
    window = day_window()
    found = exceptions_opened_series(window=window, top=2)

    assert counts_by_hour(found["code"], window) == [
        ("SCHEMA_INVALID", {10: 3}),
        ("PRICE_VARIANCE", {11: 2}),
        (OTHERS, {11: 1, 12: 1}),
    ]
    assert counts_by_hour(found["team"], window) == [
        ("Accounts payable", {11: 3}),
        ("Integration engineering", {10: 3}),
        (OTHERS, {12: 1}),
    ]
    # Exceptions naming no supplier or facility are left out of those two.
    assert counts_by_hour(found["supplier"], window) == [
        ("SUP-1", {11: 2}),
        ("SUP-2", {11: 1}),
        (OTHERS, {12: 1}),
    ]
    assert counts_by_hour(found["facility"], window) == [("HOSP", {11: 3}), ("CLIN", {12: 1})]


def test_exceptions_opened_without_folding_when_few_values(opened):
    window = day_window()
    found = exceptions_opened_series(window=window)

    assert [(s.name, s.total) for s in found["code"]] == [
        ("SCHEMA_INVALID", 3),
        ("PRICE_VARIANCE", 2),
        ("ITEM_UNKNOWN", 1),
        ("QTY_VARIANCE", 1),
    ]
    assert all(s.value is not None for d in found.values() for s in d)


def test_touchless_invoices_per_hour_variance_accepted_counts_as_touched(connector, supplier):
    clerk = role_user(roles.AP_ANALYST)

    def source():
        return make_tx(connector, received_at=at(9, 0, day=7), completed_at=at(9, 1, day=7))

    # 10:00 - two touchless (one already vouchered), one whose variance a person accepted.
    first = source()
    make_invoice(supplier, first, status="matched", matched_at=at(10, 10))
    make_invoice(supplier, source(), status="vouchered", matched_at=at(10, 20))
    accepted = source()
    make_exception(
        "PRICE_VARIANCE", opened_at=at(9, 1, day=7), transaction=accepted, status="resolved"
    )
    make_invoice(supplier, accepted, status="matched", matched_at=at(10, 30), accepted_by=clerk)
    # A later copy of the first invoice was a DUPLICATE_INVOICE on its own transaction:
    # that exception is not on the first invoice's message, which stays touchless.
    make_exception("DUPLICATE_INVOICE", opened_at=at(10, 40), transaction=source())
    # 11:00 - matched once a person resolved its GR_MISSING; one still in exception.
    late = source()
    make_exception("GR_MISSING", opened_at=at(9, 2, day=8), transaction=late, status="resolved")
    make_invoice(supplier, late, status="matched", matched_at=at(11, 15))
    make_invoice(supplier, source(), status="exception", updated_at=at(11, 40))
    # Not decided: still waiting for its goods receipt.
    make_invoice(supplier, source(), status="waiting_receipt", updated_at=at(11, 50))
    # 12:00 - a variance accepted by a person, even with no exception recorded: touched.
    make_invoice(supplier, source(), status="matched", matched_at=at(12, 5), accepted_by=clerk)
    # Before the window.
    make_invoice(supplier, source(), status="matched", matched_at=at(12, 0, day=9))

    window = day_window()
    buckets = by_hour(touchless_invoice_series(window=window), window)

    assert {h: (b.decided, b.touchless) for h, b in buckets.items() if b.decided} == {
        10: (3, 2),
        11: (2, 0),
        12: (1, 0),
    }
    assert buckets[10].rate == pytest.approx(2 / 3)
    assert buckets[13].rate is None  # nothing decided: no rate, not 0 %


def test_day_buckets_follow_the_display_time_zone(connector):
    # 29 March 2026 in Berlin runs from 28 March 23:00 UTC to 29 March 22:00 UTC (23 hours).
    zone_now = datetime.datetime(2026, 3, 31, 12, tzinfo=UTC)
    make_tx(connector, received_at=datetime.datetime(2026, 3, 28, 23, 30, tzinfo=UTC))
    make_tx(connector, received_at=datetime.datetime(2026, 3, 29, 21, 59, tzinfo=UTC))
    make_tx(connector, received_at=datetime.datetime(2026, 3, 29, 22, 1, tzinfo=UTC))
    make_exception("SCHEMA_INVALID", opened_at=datetime.datetime(2026, 3, 28, 23, 30, tzinfo=UTC))

    window = window_get(key="7d", now=zone_now, tz="Europe/Berlin")
    flow = transaction_flow_series(window=window)
    found = exceptions_opened_series(window=window)

    assert [b.received_in for b in flow] == [0, 0, 0, 0, 2, 1, 0]
    assert found["code"][0].counts == [0, 0, 0, 0, 1, 0, 0]


def test_dashboard_get_gathers_every_figure_and_defaults_the_window(flow, opened):
    dashboard = dashboard_get(window_key="bogus", now=NOW, tz="UTC")

    assert dashboard.window.key == "24h"
    assert sum(b.received_in + b.received_out for b in dashboard.flow) == 25
    assert set(dashboard.exceptions) == {"code", "team", "supplier", "facility"}
    assert len(dashboard.latency) == len(dashboard.touchless) == len(dashboard.duplicates) == 24


def test_thirty_day_window_buckets_by_day(flow):
    window = day_window("30d")
    flow_days = transaction_flow_series(window=window)

    assert len(flow_days) == 30
    assert flow_days[-1].start == at(0)
    assert (flow_days[-1].received_in, flow_days[-1].received_out) == (4, 21)
    assert flow_days[-2].received_in == 1  # the one received at 12:59 the day before
