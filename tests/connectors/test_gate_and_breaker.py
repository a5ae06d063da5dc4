"""The per-target rate limit (token bucket) and circuit breaker kept in ConnectorState.

These tests run inside one database transaction, where PostgreSQL's now() stands still: the
bucket refills only when a test moves ``tokens_at`` back, which makes the arithmetic exact.
"""

import hashlib
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.connectors.models import Connector, ConnectorState
from apps.connectors.services import connector_breaker_record, connector_gate
from apps.pipeline.choices import DirectionChoices, TransactionStatusChoices, WorkStageChoices
from apps.pipeline.models import Transaction, WorkItem
from apps.pipeline.services import work_claim
from apps.pipeline.services.delivery import deliver_claims
from apps.sandbox.models import SandboxPosting
from tests.conftest import make_rest_target, wait_until


def _db_now():
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        return cursor.fetchone()[0]


def _state(connector: Connector) -> ConnectorState:
    return ConnectorState.objects.get(pk=connector.pk)


def _rewind_bucket(connector: Connector, seconds: float) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE connectors_connectorstate SET tokens_at = now() - make_interval(secs => %s) "
            "WHERE connector_id = %s",
            [seconds, connector.pk],
        )


def _fail(connector: Connector, failures: int) -> None:
    connector_breaker_record(
        connector=connector,
        consecutive_failures=failures,
        succeeded=False,
        last_error_code="TARGET_UNAVAILABLE",
    )


def _deliver_item(target: Connector, name: str) -> WorkItem:
    now = timezone.now() - timedelta(seconds=5)
    raw = f'{{"id": "{name}"}}'.encode()
    tx = Transaction.objects.create(
        connector=target,
        direction=DirectionChoices.OUTBOUND,
        format="json",
        document_type="generic.document",
        status=TransactionStatusChoices.QUEUED,
        idempotency_key=f"out:{target.pk}:{name}",
        content_sha256=hashlib.sha256(raw).hexdigest(),
        raw=raw,
        raw_size=len(raw),
        correlation_id=name,
        received_at=now,
        updated_at=now,
    )
    return WorkItem.objects.create(
        transaction=tx,
        stage=WorkStageChoices.DELIVER,
        connector=target,
        available_at=now,
        created_at=now,
    )


@pytest.fixture
def limited(db):
    return make_rest_target(
        "http://127.0.0.1:9/documents", rate_limit_per_second=5, rate_limit_burst=3
    )


@pytest.fixture
def breaker(db):
    return make_rest_target(
        "http://127.0.0.1:9/documents",
        slug="fragile",
        breaker_threshold=3,
        breaker_cooldown_seconds=10,
    )


# --- Rate limit ----------------------------------------------------------------------------------


def test_gate_grants_burst_then_nothing_with_positive_wait(limited):
    first = connector_gate(connector=limited, wanted=10)
    second = connector_gate(connector=limited, wanted=10)

    assert (first.granted, first.consecutive_failures) == (3, 0)
    assert second.granted == 0
    # An empty bucket refills one token in 1/rate seconds.
    assert second.wait_seconds == pytest.approx(0.2)
    assert _state(limited).tokens == 0


def test_gate_grants_no_more_than_wanted(limited):
    gate = connector_gate(connector=limited, wanted=2)

    assert (gate.granted, gate.wait_seconds) == (2, 0.0)
    assert _state(limited).tokens == pytest.approx(1.0)


def test_gate_refills_at_rate(limited):
    connector_gate(connector=limited, wanted=10)
    _rewind_bucket(limited, 0.5)

    gate = connector_gate(connector=limited, wanted=10)

    # Half a second at 5/s is 2.5 tokens: 2 granted, the half left shortens the wait.
    assert gate.granted == 2
    assert gate.wait_seconds == pytest.approx(0.1)
    assert _state(limited).tokens == pytest.approx(0.5)


def test_gate_refill_is_capped_at_burst(limited):
    connector_gate(connector=limited, wanted=10)
    _rewind_bucket(limited, 3600)

    assert connector_gate(connector=limited, wanted=10).granted == 3


def test_gate_unlimited_grants_everything(db):
    target = make_rest_target("http://127.0.0.1:9/documents", rate_limit_per_second=None)

    first = connector_gate(connector=target, wanted=500)
    second = connector_gate(connector=target, wanted=500)

    assert (first.granted, first.wait_seconds) == (500, 0.0)
    assert (second.granted, second.wait_seconds) == (500, 0.0)


# --- Circuit breaker -----------------------------------------------------------------------------


def test_breaker_stays_closed_below_threshold(breaker):
    connector_gate(connector=breaker, wanted=1)

    _fail(breaker, 2)

    state = _state(breaker)
    assert state.consecutive_failures == 2
    assert state.opened_until is None
    assert state.open_count == 0
    assert state.last_error_code == "TARGET_UNAVAILABLE"
    assert state.last_failure_at is not None
    assert connector_gate(connector=breaker, wanted=5).granted == 5


def test_breaker_opens_at_threshold_and_claim_skips_its_deliveries(breaker):
    healthy = make_rest_target("http://127.0.0.1:9/documents", slug="healthy")
    held = _deliver_item(breaker, "held")
    free = _deliver_item(healthy, "free")
    connector_gate(connector=breaker, wanted=1)

    _fail(breaker, 3)

    state = _state(breaker)
    assert state.opened_until - _db_now() == timedelta(seconds=10)
    assert state.opened_until > timezone.now()
    assert state.open_count == 1
    assert state.consecutive_failures == 3
    claims = work_claim(stage=WorkStageChoices.DELIVER, limit=10)
    assert [c.work_item_id for c in claims] == [free.pk]
    held.refresh_from_db()
    assert held.leased_until is None


def test_breaker_half_open_after_cooldown_lets_one_probe_through(breaker):
    held = _deliver_item(breaker, "held")
    connector_gate(connector=breaker, wanted=1)
    _fail(breaker, 3)
    ConnectorState.objects.filter(pk=breaker.pk).update(
        opened_until=timezone.now() - timedelta(seconds=1)
    )

    claims = work_claim(stage=WorkStageChoices.DELIVER, limit=10)
    gate = connector_gate(connector=breaker, wanted=10)

    assert [c.work_item_id for c in claims] == [held.pk]
    assert gate.granted == 1
    assert gate.consecutive_failures == 3


def test_breaker_success_resets_failures_and_open_count(breaker):
    connector_gate(connector=breaker, wanted=1)
    _fail(breaker, 3)
    _fail(breaker, 4)

    connector_breaker_record(
        connector=breaker, consecutive_failures=0, succeeded=True, last_error_code=""
    )

    state = _state(breaker)
    assert (state.consecutive_failures, state.open_count, state.opened_until) == (0, 0, None)
    assert state.last_success_at is not None
    # The last failure stays on record for the screens.
    assert state.last_error_code == "TARGET_UNAVAILABLE"
    assert connector_gate(connector=breaker, wanted=7).granted == 7


def test_breaker_cooldown_doubles_with_each_opening(breaker):
    connector_gate(connector=breaker, wanted=1)
    cooldowns = []
    for failures in (3, 4, 5):
        _fail(breaker, failures)
        cooldowns.append((_state(breaker).opened_until - _db_now()).total_seconds())

    assert cooldowns == [10.0, 20.0, 40.0]
    assert _state(breaker).open_count == 3


def test_breaker_cooldown_is_capped_at_32_times(breaker):
    connector_gate(connector=breaker, wanted=1)
    ConnectorState.objects.filter(pk=breaker.pk).update(open_count=9)

    _fail(breaker, 3)

    state = _state(breaker)
    assert (state.opened_until - _db_now()).total_seconds() == 320.0
    assert state.open_count == 10


def test_breaker_hold_pauses_target_without_counting_a_failure(breaker):
    connector_gate(connector=breaker, wanted=1)

    connector_breaker_record(
        connector=breaker,
        consecutive_failures=0,
        succeeded=False,
        last_error_code="THROTTLED",
        hold_seconds=5,
    )

    state = _state(breaker)
    assert state.held_until - _db_now() == timedelta(seconds=5)
    assert state.opened_until is None  # the breaker itself stays closed
    assert (state.consecutive_failures, state.open_count) == (0, 0)
    assert state.last_error_code == "THROTTLED"
    assert connector_gate(connector=breaker, wanted=3).granted == 0


def test_breaker_shorter_hold_keeps_the_longer_one(breaker):
    connector_gate(connector=breaker, wanted=1)
    for seconds in (30, 1):
        connector_breaker_record(
            connector=breaker,
            consecutive_failures=0,
            succeeded=False,
            last_error_code="THROTTLED",
            hold_seconds=seconds,
        )

    assert _state(breaker).held_until - _db_now() == timedelta(seconds=30)


def test_breaker_success_elsewhere_does_not_lift_a_hold(breaker):
    connector_gate(connector=breaker, wanted=1)
    connector_breaker_record(
        connector=breaker,
        consecutive_failures=0,
        succeeded=False,
        last_error_code="THROTTLED",
        hold_seconds=30,
    )
    # another worker's batch, claimed before the hold, got an answer
    connector_breaker_record(
        connector=breaker, consecutive_failures=0, succeeded=True, last_error_code=""
    )

    assert _state(breaker).held_until - _db_now() == timedelta(seconds=30)


def test_breaker_hold_is_capped(breaker):
    from apps.connectors.services import MAX_HOLD_SECONDS

    connector_gate(connector=breaker, wanted=1)
    connector_breaker_record(
        connector=breaker,
        consecutive_failures=0,
        succeeded=False,
        last_error_code="THROTTLED",
        hold_seconds=315_360_000,  # "come back in ten years"
    )

    assert _state(breaker).held_until - _db_now() == timedelta(seconds=MAX_HOLD_SECONDS)


def test_gate_grants_nothing_while_the_breaker_is_open(breaker):
    connector_gate(connector=breaker, wanted=1)
    ConnectorState.objects.filter(connector=breaker).update(
        opened_until=timezone.now() + timedelta(seconds=60)
    )
    # a batch claimed just before the breaker opened must not send anyway
    assert connector_gate(connector=breaker, wanted=5).granted == 0


# --- The breaker as the deliver stage uses it ----------------------------------------------------


def test_breaker_half_open_probe_is_sent_and_closes_breaker(sandbox, sandbox_url):
    target = make_rest_target(
        f"{sandbox_url}/targets/erp/documents",
        slug="fragile",
        breaker_threshold=1,
        breaker_cooldown_seconds=30,
    )
    item = _deliver_item(target, "probe")
    sandbox.post("/faults", json={"target": "erp", "mode": "status", "status": 503, "count": 1})
    deliver_claims(work_claim(stage=WorkStageChoices.DELIVER, limit=10))
    state = _state(target)
    assert (state.consecutive_failures, state.open_count) == (1, 1)
    assert state.opened_until > timezone.now()
    # The cool-down passes and the retry's backoff (at most 0.2 s here) runs out.
    ConnectorState.objects.filter(pk=target.pk).update(
        opened_until=timezone.now() - timedelta(seconds=1)
    )
    claims = wait_until(
        lambda: work_claim(stage=WorkStageChoices.DELIVER, limit=10),
        timeout=5,
        message="the retry to become claimable",
    )

    deliver_claims(claims)

    assert SandboxPosting.objects.filter(idempotency_key=f"out:{target.pk}:probe").exists()
    state = _state(target)
    assert (state.consecutive_failures, state.open_count, state.opened_until) == (0, 0, None)
    item.transaction.refresh_from_db()
    assert item.transaction.status == TransactionStatusChoices.COMPLETED
