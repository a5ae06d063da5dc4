"""The deliver stage against the real sandbox target: once in effect, retries, breaker, limit."""

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType

from apps.connectors.models import ConnectorState
from apps.core.errors import HubError, PermissionDenied
from apps.exceptions.models import BusinessException
from apps.pipeline.choices import TransactionEventKindChoices as Kind
from apps.pipeline.choices import TransactionStatusChoices as Status
from apps.pipeline.choices import WorkStageChoices as Stage
from apps.pipeline.models import Transaction, TransactionEvent, WorkItem
from apps.pipeline.services import transaction_replay, work_drain
from apps.sandbox.models import SandboxPosting
from tests.conftest import make_rest_target, make_webhook, wait_until
from tests.pipeline.builders import receive_json


def make_due():
    WorkItem.objects.update(available_at="2000-01-01T00:00:00Z")


@pytest.fixture
def flow(sandbox, sandbox_url):
    target = make_rest_target(f"{sandbox_url}/targets/erp/documents")
    source = make_webhook(target)

    def send(*ids: str):
        for doc_id in ids:
            receive_json(source, {"id": doc_id})
        work_drain(stage=Stage.PROCESS)

    return send, target


def outbound(doc_id: str) -> Transaction:
    return Transaction.objects.get(direction="out", document_id=doc_id)


def test_delivery_posts_once_and_records_the_answer(flow):
    send, _ = flow
    send("A")

    assert work_drain(stage=Stage.DELIVER) == 1

    tx = outbound("A")
    assert (tx.status, tx.attempts) == (Status.COMPLETED, 1)
    delivered = tx.events.get(kind=Kind.DELIVERED)
    assert delivered.detail["http_status"] == 201
    assert delivered.detail["reference"].startswith("ERP-")
    posting = SandboxPosting.objects.get()
    assert posting.idempotency_key == tx.idempotency_key
    assert ConnectorState.objects.get(connector=tx.connector).last_success_at is not None


def test_a_503_is_retried_with_backoff_and_then_delivered(flow, sandbox):
    send, _ = flow
    sandbox.post("/faults", json={"target": "erp", "mode": "status", "status": 503, "count": 1})
    send("A")

    work_drain(stage=Stage.DELIVER)
    tx = outbound("A")
    assert (tx.status, tx.attempts, tx.last_error_code) == (
        Status.RETRYING,
        1,
        "TARGET_UNAVAILABLE",
    )
    retry = tx.events.get(kind=Kind.RETRY_SCHEDULED)
    assert retry.detail["http_status"] == 503
    assert 0 < retry.detail["retry_in_seconds"] <= 1.0  # within the connector's cap

    make_due()
    work_drain(stage=Stage.DELIVER)
    tx.refresh_from_db()
    assert (tx.status, tx.attempts) == (Status.COMPLETED, 2)
    assert SandboxPosting.objects.count() == 1


def test_retry_after_of_a_429_is_honoured(flow, sandbox):
    send, _ = flow
    sandbox.post(
        "/faults",
        json={"target": "erp", "mode": "status", "status": 429, "retry_after": 30, "count": 1},
    )
    send("A")

    work_drain(stage=Stage.DELIVER)

    retry = outbound("A").events.get(kind=Kind.RETRY_SCHEDULED)
    assert retry.code == "THROTTLED"
    assert retry.detail["retry_in_seconds"] >= 30


def test_a_lost_answer_is_retried_and_the_target_answers_it_as_a_replay(flow, sandbox):
    send, _ = flow
    sandbox.post("/faults", json={"target": "erp", "mode": "lose_answer", "count": 1})
    send("A")

    work_drain(stage=Stage.DELIVER)
    make_due()
    work_drain(stage=Stage.DELIVER)

    tx = outbound("A")
    assert tx.status == Status.COMPLETED
    assert tx.events.get(kind=Kind.DELIVERED).detail["replayed_by_target"] is True
    assert SandboxPosting.objects.get().replays == 1


def test_a_business_rejection_becomes_an_exception_at_once(flow, sandbox):
    send, _ = flow
    sandbox.post("/faults", json={"target": "erp", "mode": "reject", "count": 1})
    send("A")

    work_drain(stage=Stage.DELIVER)

    tx = outbound("A")
    assert (tx.status, tx.attempts) == (Status.EXCEPTION, 1)
    exception = BusinessException.objects.get(transaction=tx)
    assert exception.code_id == "DELIVERY_REJECTED"
    assert exception.summary == "The target rejected the message (HTTP 422)."
    assert "failed validation" in exception.details["target_message"]
    assert not WorkItem.objects.exists()


def test_transient_failures_past_the_limit_become_retries_exhausted(flow, sandbox):
    send, target = flow
    target.max_attempts = 2
    target.save()
    sandbox.post("/faults", json={"target": "erp", "mode": "status", "status": 502, "count": 5})
    send("A")

    work_drain(stage=Stage.DELIVER)
    make_due()
    work_drain(stage=Stage.DELIVER)

    tx = outbound("A")
    assert (tx.status, tx.attempts) == (Status.EXCEPTION, 2)
    exception = BusinessException.objects.get(transaction=tx)
    assert exception.code_id == "RETRIES_EXHAUSTED"
    assert exception.details["last_error_code"] == "TARGET_UNAVAILABLE"
    assert exception.team.slug == "integration"


def test_circuit_breaker_opens_and_holds_the_rest_without_spending_attempts(flow, sandbox):
    send, target = flow
    target.breaker_threshold = 2
    target.breaker_cooldown_seconds = 60
    target.concurrency = 1  # one send per wave, so the breaker is checked after each
    target.save()
    sandbox.post("/faults", json={"target": "erp", "mode": "status", "status": 503, "count": 50})
    send("A", "B", "C", "D", "E")

    work_drain(stage=Stage.DELIVER)

    state = ConnectorState.objects.get(connector=target)
    assert state.opened_until is not None
    assert state.open_count == 1
    attempts = sorted(
        Transaction.objects.filter(direction="out").values_list("attempts", flat=True)
    )
    assert attempts == [0, 0, 0, 1, 1]
    assert WorkItem.objects.count() == 5  # nothing lost, nothing given up
    make_due()
    assert work_drain(stage=Stage.DELIVER) == 0  # breaker open: nothing claimed


def test_postings_to_one_target_are_sent_in_parallel_waves(flow, sandbox):
    send, target = flow
    target.concurrency = 4
    target.save()
    # Every posting waits 600 ms at the target before it is stored.
    sandbox.post(
        "/faults", json={"target": "erp", "mode": "latency", "latency_ms": 600, "count": 8}
    )
    send(*[f"P-{n}" for n in range(8)])

    work_drain(stage=Stage.DELIVER)

    stamps = sorted(SandboxPosting.objects.values_list("received_at", flat=True))
    assert len(stamps) == 8
    # Two waves of four: each wave's postings arrive together, the waves 600 ms apart.
    first, second = stamps[:4], stamps[4:]
    assert (first[-1] - first[0]).total_seconds() < 0.35
    assert (second[-1] - second[0]).total_seconds() < 0.35
    assert (second[0] - first[0]).total_seconds() >= 0.55


def test_rate_limit_sends_only_what_the_bucket_allows(flow):
    send, target = flow
    target.rate_limit_per_second = 0.5
    target.rate_limit_burst = 2
    target.save()
    send("A", "B", "C", "D")

    work_drain(stage=Stage.DELIVER)

    assert SandboxPosting.objects.count() == 2
    held = Transaction.objects.filter(direction="out", status=Status.QUEUED)
    assert held.count() == 2
    assert set(held.values_list("attempts", flat=True)) == {0}


@pytest.fixture
def rejected(flow, sandbox):
    send, _ = flow
    sandbox.post("/faults", json={"target": "erp", "mode": "reject", "count": 1})
    send("A")
    work_drain(stage=Stage.DELIVER)
    return outbound("A")


def test_replay_reuses_the_key_delivers_and_resolves_the_exception_as_the_replayer(
    rejected, engineer
):
    transaction_replay(transaction_id=rejected.pk, actor=engineer)
    work_drain(stage=Stage.DELIVER)

    rejected.refresh_from_db()
    assert rejected.status == Status.COMPLETED
    assert SandboxPosting.objects.get().idempotency_key == rejected.idempotency_key
    replayed = rejected.events.get(kind=Kind.REPLAYED)
    assert replayed.actor == engineer
    exception = BusinessException.objects.get(transaction=rejected)
    assert exception.status == "resolved"
    kinds = list(exception.activities.values_list("kind", "actor__username"))
    assert kinds == [("opened", None), ("replay_requested", "dave"), ("resolved", "dave")]
    # django-auditlog attributes the resolution to the engineer, though no request was involved
    entry = LogEntry.objects.get(
        content_type=ContentType.objects.get_for_model(BusinessException),
        object_pk=str(exception.pk),
    )
    assert entry.actor == engineer
    assert entry.changes_dict["status"] == ["open", "resolved"]


def test_replay_after_a_lost_answer_never_posts_twice(flow, sandbox, engineer):
    send, target = flow
    target.max_attempts = 1
    target.save()
    sandbox.post("/faults", json={"target": "erp", "mode": "lose_answer", "count": 1})
    send("A")
    work_drain(stage=Stage.DELIVER)
    tx = outbound("A")
    assert tx.status == Status.EXCEPTION

    transaction_replay(transaction_id=tx.pk, actor=engineer)
    work_drain(stage=Stage.DELIVER)

    tx.refresh_from_db()
    assert tx.status == Status.COMPLETED
    assert SandboxPosting.objects.count() == 1
    assert SandboxPosting.objects.get().replays == 1


def test_replay_needs_the_replay_permission(rejected, viewer):
    with pytest.raises(PermissionDenied):
        transaction_replay(transaction_id=rejected.pk, actor=viewer)
    assert not rejected.events.filter(kind=Kind.REPLAYED).exists()


def test_replay_of_a_completed_transaction_is_refused(flow, engineer):
    send, _ = flow
    send("A")
    work_drain(stage=Stage.DELIVER)

    with pytest.raises(HubError) as error:
        transaction_replay(transaction_id=outbound("A").pk, actor=engineer)
    assert error.value.code == "REPLAY_NOT_ALLOWED"


def test_replay_of_an_inbound_failure_runs_it_through_processing_again(flow, engineer):
    _, target = flow
    source = target.fed_by.get()
    received = receive_json(source, key="bad", raw=b'{"no": "id"}')
    work_drain(stage=Stage.PROCESS)
    assert Transaction.objects.get(pk=received.transaction_id).status == Status.EXCEPTION
    source.settings = {**source.settings, "document_id_field": "no"}  # the mapping is fixed
    source.save()

    transaction_replay(transaction_id=received.transaction_id, actor=engineer)
    work_drain(stage=Stage.PROCESS)
    work_drain(stage=Stage.DELIVER)

    assert Transaction.objects.get(pk=received.transaction_id).status == Status.COMPLETED
    assert SandboxPosting.objects.get().body["document_id"] == "id"
    assert TransactionEvent.objects.filter(kind=Kind.FAILED).count() == 1


def test_exception_replay_respects_the_codes_allowed_actions(rejected, engineer):
    from apps.exceptions.models import ExceptionCode
    from apps.pipeline.services import exception_replay

    item = BusinessException.objects.get(transaction=rejected)
    ExceptionCode.objects.filter(code=item.code_id).update(allowed_actions=["comment", "resolve"])

    with pytest.raises(HubError) as error:
        exception_replay(exception_id=item.pk, actor=engineer)
    assert error.value.code == "ACTION_NOT_ALLOWED"
    assert not rejected.events.filter(kind=Kind.REPLAYED).exists()


def test_exception_replay_runs_the_transaction_again(rejected, engineer):
    from apps.pipeline.services import exception_replay

    item = BusinessException.objects.get(transaction=rejected)
    exception_replay(exception_id=item.pk, actor=engineer)
    work_drain(stage=Stage.DELIVER)

    item.refresh_from_db()
    assert item.status == "resolved"


def test_no_request_outlives_a_quarter_of_the_lease(flow, sandbox, settings):
    send, target = flow
    settings.HUBCONSOLE = {**settings.HUBCONSOLE, "LEASE_SECONDS": 4}  # requests get 1 s
    target.timeout_seconds = 30
    target.save()
    sandbox.post(
        "/faults", json={"target": "erp", "mode": "latency", "latency_ms": 2500, "count": 1}
    )
    send("A")

    work_drain(stage=Stage.DELIVER)

    retry = outbound("A").events.get(kind=Kind.RETRY_SCHEDULED)
    assert retry.code == "TARGET_UNAVAILABLE"
    assert retry.message == "The target did not answer in time."
    # The slow target still stores the posting after HubConsole gave up on the answer; the
    # retry will be answered as a replay. (Waiting also keeps it from landing in a later test.)
    wait_until(SandboxPosting.objects.exists, timeout=10, message="the late posting")
    make_due()
    work_drain(stage=Stage.DELIVER)
    assert outbound("A").events.get(kind=Kind.DELIVERED).detail["replayed_by_target"] is True


def test_every_parallel_request_gets_a_connection(flow, sandbox):
    send, target = flow
    target.concurrency = 12  # more than any fixed default pool
    target.save()
    sandbox.post(
        "/faults", json={"target": "erp", "mode": "latency", "latency_ms": 600, "count": 12}
    )
    send(*[f"P-{n}" for n in range(12)])

    work_drain(stage=Stage.DELIVER)

    stamps = sorted(SandboxPosting.objects.values_list("received_at", flat=True))
    assert len(stamps) == 12
    assert (stamps[-1] - stamps[0]).total_seconds() < 0.35  # one wave, none queued for a socket
