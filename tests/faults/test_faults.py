"""Fault tests: real HTTP, real Celery workers and beat, real Redis; bounded and self-stopping.

Each asserts the guarantees of DESIGN §6: every acknowledged message ends completed or in a
coded exception, none is lost, and the target never receives a document twice.
"""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.db.models import Count
from django.utils import timezone

from apps.connectors.signing import sign
from apps.core.redis import redis_client
from apps.pipeline.choices import TransactionEventKindChoices as Kind
from apps.pipeline.choices import TransactionStatusChoices as Status
from apps.pipeline.models import Transaction, TransactionEvent, WorkItem
from apps.sandbox.models import SandboxPosting
from tests.conftest import WEBHOOK_SECRET, make_rest_target, make_webhook, wait_until

pytestmark = pytest.mark.slow

TERMINAL = {Status.COMPLETED, Status.EXCEPTION}


def post_webhooks(url: str, ids: list[str], *, threads: int = 8) -> list[int]:
    """POST one signed document per id, concurrently; returns the HTTP statuses."""

    def post_many(chunk: list[str]) -> list[int]:
        statuses = []
        with httpx.Client(timeout=30) as client:
            for doc_id in chunk:
                body = json.dumps(
                    {"event_id": f"evt-{doc_id}", "id": doc_id, "po_number": f"PO-{doc_id}"}
                ).encode()
                response = client.post(
                    url,
                    content=body,
                    headers={
                        "Content-Type": "application/json",
                        "X-HubConsole-Signature": sign(WEBHOOK_SECRET, body),
                    },
                )
                statuses.append(response.status_code)
        return statuses

    chunks = [ids[n::threads] for n in range(threads)]
    with ThreadPoolExecutor(threads) as pool:
        return [status for result in pool.map(post_many, chunks) for status in result]


def settled(expected_inbound: int):
    """True once every message reached a terminal state and no work is pending."""
    inbound = Transaction.objects.filter(direction="in")
    return (
        inbound.count() == expected_inbound
        and not inbound.exclude(status__in=TERMINAL).exists()
        and not Transaction.objects.filter(direction="out").exclude(status__in=TERMINAL).exists()
        and not WorkItem.objects.exists()
    )


def assert_no_duplicate_postings():
    repeated = (
        SandboxPosting.objects.values("body__document_id").annotate(n=Count("id")).filter(n__gt=1)
    )
    assert list(repeated) == []


@pytest.fixture
def webhook_flow(live_server, sandbox, sandbox_url):
    target = make_rest_target(f"{sandbox_url}/targets/erp/documents", max_attempts=10)
    make_webhook(target)
    return f"{live_server.url}/in/webhooks/procurement"


def active_lease() -> bool:
    return WorkItem.objects.filter(leased_until__gt=timezone.now()).exists()


def delivered() -> int:
    return Transaction.objects.filter(direction="out", status=Status.COMPLETED).count()


def test_worker_killed_twice_mid_batch_loses_nothing_and_posts_nothing_twice(
    webhook_flow, sandbox, start_worker, start_beat
):
    # Slow the target a little so kills land while batches are in flight.
    sandbox.post(
        "/faults", json={"target": "erp", "mode": "latency", "latency_ms": 4, "seconds": 600}
    )
    start_beat()
    worker = start_worker()
    ids = [f"K-{n:05d}" for n in range(2000)]
    statuses: list[int] = []
    sender = threading.Thread(target=lambda: statuses.extend(post_webhooks(webhook_flow, ids)))
    sender.start()

    for threshold in (250, 900):
        wait_until(
            lambda t=threshold: delivered() >= t and active_lease(),
            timeout=120,
            interval=0.05,
            message=f"{threshold} deliveries with a batch in flight",
        )
        worker.kill9()
        worker = start_worker()
    sender.join(120)

    assert statuses.count(202) == 2000, f"not every message was acknowledged: {set(statuses)}"
    wait_until(lambda: settled(2000), timeout=180, interval=0.5, message="all work to settle")
    outbound = Transaction.objects.filter(direction="out")
    assert outbound.count() == 2000
    assert set(Transaction.objects.values_list("status", flat=True)) <= TERMINAL
    assert SandboxPosting.objects.count() == outbound.filter(status=Status.COMPLETED).count()
    assert_no_duplicate_postings()
    # The kills really landed mid-batch: some items were taken over after a lease expired.
    assert TransactionEvent.objects.filter(kind=Kind.RECLAIMED).exists()


def test_broker_queues_wiped_mid_batch_are_recovered_by_the_sweeper(
    webhook_flow, start_worker, start_beat
):
    ids = [f"F-{n:05d}" for n in range(1000)]
    assert post_webhooks(webhook_flow, ids).count(202) == 1000
    assert redis_client().llen("processing") > 0
    redis_client().flushdb()  # every doorbell task and debounce key is gone

    start_worker()
    # Without a sweeper nothing moves: the work waits in PostgreSQL, not in the broker.
    with pytest.raises(pytest.fail.Exception):
        wait_until(
            lambda: Transaction.objects.filter(status=Status.COMPLETED).exists(),
            timeout=3,
            message="(expected to time out)",
        )

    start_beat()
    wait_until(lambda: delivered() >= 300, timeout=120, message="deliveries to start")
    redis_client().flushdb()  # and once more in the middle of the batch
    wait_until(lambda: settled(1000), timeout=180, interval=0.5, message="all work to settle")
    assert delivered() == 1000
    assert SandboxPosting.objects.count() == 1000
    assert_no_duplicate_postings()


def test_the_same_500_messages_twice_are_stored_and_posted_once_each(
    webhook_flow, start_worker, start_beat
):
    start_worker()
    start_beat()
    ids = [f"D-{n:04d}" for n in range(500)]

    first = post_webhooks(webhook_flow, ids)
    second = post_webhooks(webhook_flow, ids)

    assert first.count(202) == 500
    assert second.count(200) == 500  # answered "duplicate", not an error the sender retries
    wait_until(lambda: settled(500), timeout=120, interval=0.5, message="all work to settle")
    assert Transaction.objects.filter(direction="in").count() == 500
    assert TransactionEvent.objects.filter(kind=Kind.DUPLICATE_SUPPRESSED).count() == 500
    assert SandboxPosting.objects.count() == 500
    assert_no_duplicate_postings()


def test_target_answering_503_then_429_is_backed_off_and_then_completes(
    webhook_flow, sandbox, start_worker, start_beat
):
    target = Transaction._meta.get_field("connector").related_model.objects.get(slug="erp")
    target.max_attempts = 30
    target.backoff_base_seconds = 0.2
    target.backoff_cap_seconds = 1.5
    target.breaker_threshold = 5
    target.breaker_cooldown_seconds = 0.5
    target.save()
    # Count-based, so the sequence is the same however fast the machine: 8 answers of 503
    # (the breaker opens after 5, then 3 half-open probes fail), 10 of 429, then normal service.
    sandbox.post(
        "/faults",
        json={"target": "erp", "mode": "status", "status": 503, "retry_after": 1, "count": 8},
    )
    sandbox.post(
        "/faults",
        json={"target": "erp", "mode": "status", "status": 429, "retry_after": 1, "count": 10},
    )
    start_worker()
    start_beat()

    assert post_webhooks(webhook_flow, [f"R-{n:03d}" for n in range(200)]).count(202) == 200

    wait_until(lambda: settled(200), timeout=180, interval=0.5, message="all work to settle")
    assert delivered() == 200
    assert not Transaction.objects.filter(status=Status.EXCEPTION).exists()
    retries = TransactionEvent.objects.filter(kind=Kind.RETRY_SCHEDULED)
    assert retries.filter(code="TARGET_UNAVAILABLE").exists()
    throttled = retries.filter(code="THROTTLED")
    assert throttled.exists()
    assert min(e.detail["retry_in_seconds"] for e in throttled) >= 1  # Retry-After honoured
    assert SandboxPosting.objects.count() == 200
    assert_no_duplicate_postings()


def test_messages_are_accepted_while_redis_is_down_and_flow_once_it_is_back(
    webhook_flow, settings, start_worker, start_beat
):
    good_redis = settings.REDIS_URL
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    redis_client.cache_clear()
    try:
        statuses = post_webhooks(webhook_flow, [f"O-{n}" for n in range(20)], threads=2)
    finally:
        settings.REDIS_URL = good_redis
        redis_client.cache_clear()

    assert statuses.count(202) == 20
    assert WorkItem.objects.count() == 20
    start_worker()
    start_beat()
    wait_until(lambda: settled(20), timeout=60, interval=0.5, message="all work to settle")
    assert SandboxPosting.objects.count() == 20
