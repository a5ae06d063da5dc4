"""The SLA scan: one alert per (exception, kind), in time order, however often it runs."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from apps.alerts.choices import AlertKindChoices, AlertStatusChoices, SlaStateChoices
from apps.alerts.models import Alert, ExceptionSla
from apps.alerts.selectors import annotate_sla_state, sla_state
from apps.alerts.services import alerts_detect, alerts_scan, sla_refresh
from apps.exceptions.models import BusinessException
from tests.alerts.conftest import T0, at, open_exception, team

K = AlertKindChoices


def _kinds(exception) -> list[str]:
    return list(
        Alert.objects.filter(exception=exception)
        .order_by("created_at", "id")
        .values_list("kind", flat=True)
    )


@pytest.fixture
def escalating_policy(make_policy):
    """24/7; at risk at 75 %, escalated 30 minutes after the breach."""
    return make_policy(
        at_risk_percent=75, escalate_after_minutes=30, escalation_email="duty-manager@example.org"
    )


@pytest.fixture
def no_digests(settings):
    settings.HUBCONSOLE = {**settings.HUBCONSOLE, "ALERT_DIGEST_THRESHOLD": 10_000}


def test_scan_at_risk_then_breached_then_escalation_in_time_order(escalating_policy):
    item = open_exception(opened_at=T0, due_in=60)

    timeline = {}
    for minute in (10, 44, 45, 50, 59, 60, 61, 89, 90, 91, 500):
        alerts_scan(now=at(minute))
        timeline[minute] = _kinds(item)

    assert timeline[44] == []
    assert timeline[45] == [K.AT_RISK]
    assert timeline[59] == [K.AT_RISK]
    assert timeline[60] == [K.AT_RISK, K.BREACHED]
    assert timeline[89] == [K.AT_RISK, K.BREACHED]
    assert timeline[90] == timeline[500] == [K.AT_RISK, K.BREACHED, K.ESCALATION]
    alerts = {a.kind: a for a in Alert.objects.filter(exception=item)}
    assert alerts[K.AT_RISK].recipients == [item.team.email]
    assert alerts[K.BREACHED].recipients == [item.team.email]
    assert alerts[K.ESCALATION].recipients == ["duty-manager@example.org"]
    assert [alerts[k].threshold_at for k in (K.AT_RISK, K.BREACHED, K.ESCALATION)] == [
        at(45),
        at(60),
        at(90),
    ]
    assert [alerts[k].created_at for k in (K.AT_RISK, K.BREACHED, K.ESCALATION)] == [
        at(45),
        at(60),
        at(90),
    ]
    assert all(a.status == AlertStatusChoices.PENDING for a in alerts.values())


def test_scan_many_runs_write_exactly_one_alert_per_exception_and_kind(escalating_policy):
    items = [open_exception(opened_at=T0, due_in=60) for _ in range(3)]

    for _ in range(3):
        for minute in (45, 60, 90, 120):
            alerts_scan(now=at(minute))

    assert Alert.objects.filter(exception__in=items).count() == 3 * 3
    assert alerts_scan(now=at(1000)).alerts == 0


def test_scan_a_breach_first_seen_late_does_not_warn_of_risk_afterwards(escalating_policy):
    item = open_exception(opened_at=T0, due_in=60)

    alerts_scan(now=at(70))

    assert _kinds(item) == [K.BREACHED]


def test_scan_leaves_closed_exceptions_alone(escalating_policy):
    item = open_exception(opened_at=T0, due_in=60)
    BusinessException.objects.filter(pk=item.pk).update(status="resolved", resolved_at=at(30))

    result = alerts_scan(now=at(500))

    assert result.alerts == 0
    assert _kinds(item) == []


def test_scan_without_escalation_address_breaches_but_never_escalates(make_policy):
    make_policy(escalate_after_minutes=30)
    item = open_exception(opened_at=T0, due_in=60)

    alerts_scan(now=at(1000))

    assert _kinds(item) == [K.BREACHED]


def test_scan_recomputes_the_moments_when_the_due_time_moves(escalating_policy):
    item = open_exception(opened_at=T0, due_in=60)
    alerts_scan(now=at(10))
    BusinessException.objects.filter(pk=item.pk).update(due_at=at(120))

    result = alerts_scan(now=at(80))

    assert result.clocks == 1
    assert ExceptionSla.objects.get(exception=item).at_risk_at == at(90)
    assert _kinds(item) == []
    alerts_scan(now=at(90))
    assert _kinds(item) == [K.AT_RISK]


def test_scan_counts_business_hours_for_the_risk_moment(make_policy, office_hours):
    make_policy(calendar=office_hours, at_risk_percent=50)
    # Friday 2025-06-13 15:00 New York (19:00 UTC), due Monday 11:00 (15:00 UTC): 5 office hours.
    friday = T0.replace(day=13, hour=19)
    item = open_exception(opened_at=friday, due_in=(3 * 24 - 4) * 60)

    alerts_scan(now=friday + timedelta(hours=40))  # Sunday: half the wall time, not the work

    assert _kinds(item) == []
    assert ExceptionSla.objects.get(exception=item).at_risk_at == friday + timedelta(hours=65.5)


def test_scan_folds_a_crowd_for_one_team_into_one_digest(make_policy, settings):
    settings.HUBCONSOLE = {**settings.HUBCONSOLE, "ALERT_DIGEST_THRESHOLD": 3}
    make_policy()
    ap = [open_exception("PRICE_VARIANCE", opened_at=T0, due_in=60) for _ in range(5)]
    supply = [open_exception("OVER_RECEIPT", opened_at=T0, due_in=60) for _ in range(2)]

    result = alerts_scan(now=at(60))

    assert (result.alerts, result.digests, result.folded) == (7, 1, 5)
    digest = Alert.objects.get(kind=K.DIGEST)
    assert digest.team == team("accounts_payable")
    assert digest.recipients == [team("accounts_payable").email]
    assert digest.exception is None
    assert set(digest.members.values_list("exception_id", flat=True)) == {e.pk for e in ap}
    assert set(digest.members.values_list("status", flat=True)) == {AlertStatusChoices.PENDING}
    alone = Alert.objects.filter(exception__in=supply)
    assert [a.digest_id for a in alone] == [None, None]
    # The next scan has nothing new to fold.
    assert alerts_scan(now=at(61)).digests == 0


def test_scan_threshold_is_more_than_n(make_policy, settings):
    settings.HUBCONSOLE = {**settings.HUBCONSOLE, "ALERT_DIGEST_THRESHOLD": 3}
    make_policy()
    for _ in range(3):
        open_exception(opened_at=T0, due_in=60)

    assert alerts_scan(now=at(60)).digests == 0


# --- SLA state for screens ------------------------------------------------------------------------


def test_sla_state_in_python_and_in_sql_agree(escalating_policy):
    scanned = open_exception(opened_at=T0, due_in=60)
    alerts_scan(now=at(0))  # computes its moments; the others stay unscanned
    unscanned = open_exception(opened_at=T0, due_in=100)
    closed_late = open_exception(opened_at=T0, due_in=60)
    closed_early = open_exception(opened_at=T0, due_in=60)
    BusinessException.objects.filter(pk=closed_late.pk).update(
        status="resolved", resolved_at=at(70)
    )
    BusinessException.objects.filter(pk=closed_early.pk).update(
        status="ignored", resolved_at=at(50)
    )
    ids = [scanned.pk, unscanned.pk, closed_late.pk, closed_early.pk]

    seen = {}
    for minute in (0, 44, 45, 60, 74, 75, 100, 200):
        now = at(minute)
        python = {
            e.pk: sla_state(e, now)
            for e in BusinessException.objects.filter(pk__in=ids).select_related("sla")
        }
        sql = dict(
            annotate_sla_state(BusinessException.objects.filter(pk__in=ids), now).values_list(
                "pk", "sla_state"
            )
        )
        assert python == sql, minute
        seen[minute] = python

    S = SlaStateChoices
    assert [seen[m][scanned.pk] for m in (44, 45, 60)] == [S.ON_TRACK, S.AT_RISK, S.BREACHED]
    assert [seen[m][unscanned.pk] for m in (74, 75, 100)] == [S.ON_TRACK, S.AT_RISK, S.BREACHED]
    assert seen[0][closed_late.pk] == S.BREACHED  # judged when it was closed
    assert seen[200][closed_early.pk] == S.AT_RISK  # closed at 50 of 60: in the risk zone


def test_sla_state_annotation_is_one_query(escalating_policy, django_assert_num_queries):
    for _ in range(3):
        open_exception(opened_at=T0, due_in=60)
    alerts_scan(now=at(0))

    with django_assert_num_queries(1):
        states = list(
            annotate_sla_state(BusinessException.objects.all(), at(50)).values_list(
                "sla_state", flat=True
            )
        )

    assert states == [SlaStateChoices.AT_RISK] * 3


# --- Concurrency ----------------------------------------------------------------------------------


def _in_threads(*targets):
    """Run each target in its own thread (its own database connection); return results."""
    results, errors = [None] * len(targets), []

    def run(index, target):
        try:
            results[index] = target()
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, t)) for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


@pytest.mark.django_db(transaction=True)
def test_scan_two_concurrent_scans_write_each_alert_once(escalating_policy, no_digests):
    items = [open_exception(opened_at=T0, due_in=60) for _ in range(40)]
    start = threading.Barrier(2)

    def scan():
        start.wait()
        return alerts_scan(now=at(90))

    first, second = _in_threads(scan, scan)

    assert Alert.objects.count() == 40 * 2  # breached and escalation; at risk is moot by now
    for item in items:
        assert sorted(_kinds(item)) == sorted([K.BREACHED, K.ESCALATION])
    assert first.alerts + second.alerts == 80
    assert first.skipped or second.skipped or 0 in (first.alerts, second.alerts)


@pytest.mark.django_db(transaction=True)
def test_scan_insert_conflicts_with_an_uncommitted_twin_instead_of_duplicating(
    escalating_policy, no_digests
):
    # Without the scan's lock: two transactions insert the same alerts at the same time. The
    # second must wait for the first and then insert nothing.
    items = [open_exception(opened_at=T0, due_in=60) for _ in range(20)]
    sla_refresh(now=at(0))
    first_inserted = threading.Event()

    def first():
        with transaction.atomic():
            count = alerts_detect(now=at(60))
            first_inserted.set()
            time.sleep(0.5)  # hold the uncommitted rows while the second one tries
        return count

    def second():
        first_inserted.wait(10)
        started = time.monotonic()
        with transaction.atomic():
            count = alerts_detect(now=at(60))
        return count, time.monotonic() - started

    inserted_first, (inserted_second, waited) = _in_threads(first, second)

    assert (inserted_first, inserted_second) == (20, 0)
    assert waited > 0.2  # it really ran into the first one's rows
    assert Alert.objects.filter(exception__in=items).count() == 20


def test_scan_skips_while_another_scan_holds_the_lock(escalating_policy):
    open_exception(opened_at=T0, due_in=60)

    def other_scan():
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [0x4855_4241_4C52])
            held = cursor.fetchone()[0]
            return held, alerts_scan(now=at(60))

    # The test's own transaction takes the lock first; a scan in another thread must skip.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [0x4855_4241_4C52])
    ((held, result),) = _in_threads(other_scan)

    assert held is False
    assert result.skipped
    assert Alert.objects.count() == 0


def test_scan_real_clock_by_default(make_policy):
    make_policy()
    item = open_exception(opened_at=timezone.now() - timedelta(hours=2), due_in=60)

    alerts_scan()

    assert _kinds(item) == [K.BREACHED]
