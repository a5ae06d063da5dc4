"""Claiming work: leases, SKIP LOCKED, paused connectors, crashes and poison messages."""

import threading

import pytest
from django.db import connection

from apps.core.redis import redis_client
from apps.exceptions.models import BusinessException
from apps.pipeline.choices import TransactionEventKindChoices as Kind
from apps.pipeline.choices import TransactionStatusChoices as Status
from apps.pipeline.choices import WorkStageChoices as Stage
from apps.pipeline.models import Transaction, TransactionEvent, WorkItem
from apps.pipeline.services import work_claim, work_sweep
from apps.pipeline.services.processing import process_claims
from tests.conftest import make_webhook
from tests.pipeline.builders import receive_json


def expire_leases():
    WorkItem.objects.update(leased_until="2000-01-01T00:00:00Z")


@pytest.mark.django_db
def test_work_claim_leases_items_so_a_second_claim_takes_others():
    connector = make_webhook()
    for n in range(5):
        receive_json(connector, {"id": f"D-{n}"})

    first = work_claim(stage=Stage.PROCESS, limit=3)
    second = work_claim(stage=Stage.PROCESS, limit=3)

    assert len(first) == 3
    assert len(second) == 2
    assert not {c.transaction_id for c in first} & {c.transaction_id for c in second}
    assert work_claim(stage=Stage.PROCESS, limit=3) == []
    assert all(c.open_claims == 1 and c.crashes == 0 for c in first + second)


@pytest.mark.django_db(transaction=True)
def test_work_claim_from_concurrent_workers_never_hands_out_an_item_twice():
    connector = make_webhook()
    for n in range(100):
        receive_json(connector, {"id": f"D-{n}"})
    results: list[list] = []

    def claim_all():
        mine = []
        while batch := work_claim(stage=Stage.PROCESS, limit=7):
            mine += [c.transaction_id for c in batch]
        results.append(mine)
        connection.close()

    threads = [threading.Thread(target=claim_all) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    claimed = [tx for mine in results for tx in mine]
    assert len(claimed) == 100
    assert len(set(claimed)) == 100


@pytest.mark.django_db
def test_work_claim_holds_work_of_paused_and_disabled_connectors():
    paused = make_webhook(slug="paused", paused=True)
    disabled = make_webhook(slug="disabled", enabled=False)
    receive_json(paused, {"id": "P-1"})
    receive_json(disabled, {"id": "D-1"})

    assert work_claim(stage=Stage.PROCESS, limit=10) == []

    paused.paused = False
    paused.save()
    assert [c.connector_id for c in work_claim(stage=Stage.PROCESS, limit=10)] == [paused.pk]


@pytest.mark.django_db
def test_work_claim_gives_items_of_a_dead_worker_to_the_suspect_lane_one_at_a_time():
    connector = make_webhook()
    for n in range(3):
        receive_json(connector, {"id": f"D-{n}"})
    work_claim(stage=Stage.PROCESS, limit=10)
    expire_leases()  # the worker that held them died

    assert work_claim(stage=Stage.PROCESS, limit=10) == []
    suspect = work_claim(stage=Stage.PROCESS, limit=10, suspects=True)
    assert len(suspect) == 1
    assert suspect[0].crashes == 1


@pytest.mark.django_db
def test_process_after_a_crash_records_the_reclaim_and_completes():
    connector = make_webhook()
    received = receive_json(connector, {"id": "D-1"})
    work_claim(stage=Stage.PROCESS, limit=10)
    expire_leases()

    claims = work_claim(stage=Stage.PROCESS, limit=1, suspects=True)
    process_claims(claims)

    tx = Transaction.objects.get(pk=received.transaction_id)
    assert tx.status == Status.COMPLETED
    kinds = list(tx.events.values_list("kind", flat=True))
    assert kinds == [Kind.RECEIVED, Kind.RECLAIMED, Kind.PROCESSED]
    assert not WorkItem.objects.filter(transaction=tx).exists()


@pytest.mark.django_db
def test_message_that_keeps_killing_workers_becomes_a_poison_exception(settings):
    settings.HUBCONSOLE = {**settings.HUBCONSOLE, "MAX_CRASHES": 3}
    connector = make_webhook()
    received = receive_json(connector, {"id": "D-1"})
    work_claim(stage=Stage.PROCESS, limit=1)
    for _ in range(3):  # three workers die holding it
        expire_leases()
        claims = work_claim(stage=Stage.PROCESS, limit=1, suspects=True)
    assert claims[0].crashes == 3

    process_claims(claims)

    tx = Transaction.objects.get(pk=received.transaction_id)
    assert tx.status == Status.EXCEPTION
    assert tx.last_error_code == "POISON_MESSAGE"
    assert not WorkItem.objects.exists()
    exception = BusinessException.objects.get(transaction=tx)
    assert (exception.code_id, exception.status) == ("POISON_MESSAGE", "open")


@pytest.mark.django_db
def test_outcome_of_a_claim_taken_over_by_another_worker_is_not_recorded_twice():
    connector = make_webhook()
    received = receive_json(connector, {"id": "D-1"})
    slow = work_claim(stage=Stage.PROCESS, limit=1)
    expire_leases()
    fast = work_claim(stage=Stage.PROCESS, limit=1, suspects=True)

    process_claims(fast)
    process_claims(slow)  # the slow worker wakes up after its lease expired

    tx = Transaction.objects.get(pk=received.transaction_id)
    assert tx.status == Status.COMPLETED
    assert tx.attempts == 1
    assert TransactionEvent.objects.filter(transaction=tx, kind=Kind.PROCESSED).count() == 1
    assert Transaction.objects.filter(direction="out").count() == 0  # no route configured


@pytest.mark.django_db
def test_sweeper_re_rings_work_whose_doorbell_was_lost():
    connector = make_webhook()
    receive_json(connector, {"id": "D-1"})
    redis_client().flushdb()  # the broker lost the task and the debounce key
    WorkItem.objects.update(available_at="2000-01-01T00:00:00Z")

    ready = work_sweep()

    assert ready == {Stage.PROCESS: 1}
    assert redis_client().llen("processing") == 1


@pytest.mark.django_db
def test_sweeper_does_nothing_when_no_work_is_ready():
    assert work_sweep() == {}
    assert redis_client().llen("processing") == 0


@pytest.mark.django_db(transaction=True)
def test_queue_vacuum_clears_dead_rows_left_by_finished_work():
    from apps.pipeline.services.work import work_queue_vacuum
    from apps.pipeline.tasks import vacuum_queue

    connector = make_webhook()
    for n in range(50):
        receive_json(connector, {"id": f"D-{n}"})
    process_claims(work_claim(stage=Stage.PROCESS, limit=100))

    def dead_rows() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_force_next_flush()")
            cursor.execute(
                "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'pipeline_workitem'"
            )
            return cursor.fetchone()[0]

    assert dead_rows() > 0
    vacuum_queue()  # the beat task, called directly
    assert dead_rows() == 0
    work_queue_vacuum()  # and idempotent
