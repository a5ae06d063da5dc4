"""Bulk replay services: preview through the list's FilterSets, start, dry run, the runner's
outcomes, cancel, crash recovery, the throttle and the permission checks."""

import itertools
import time

import pytest
from django.db import connection
from django.urls import reverse

from apps.core.errors import HubError, PermissionDenied
from apps.exceptions.models import ExceptionActivity
from apps.exceptions.services import ExceptionSpec, exception_resolve, exceptions_open
from apps.pipeline.choices import TransactionEventKindChoices as Kind
from apps.pipeline.models import Transaction, TransactionEvent, WorkItem
from apps.pipeline.services import transaction_replay
from apps.replays import services
from apps.replays.models import ReplayJob, ReplayJobItem
from apps.replays.services import (
    replay_job_cancel,
    replay_job_preview,
    replay_job_resume,
    replay_job_run,
    replay_job_start,
    replay_job_submit,
)
from tests.replays.conftest import exception_of

pytestmark = pytest.mark.django_db

EXCEPTIONS = "exceptions"
TRANSACTIONS = "transactions"


def outcomes(job: ReplayJob) -> dict[int, str]:
    return dict(job.items.values_list("target_id", "outcome"))


def replayed_events(transactions) -> list[int]:
    return sorted(
        TransactionEvent.objects.filter(
            transaction__in=transactions, kind=Kind.REPLAYED
        ).values_list("transaction_id", flat=True)
    )


def started(engineer, *, kind=EXCEPTIONS, params=None, dry_run=False, rate=200) -> ReplayJob:
    job = replay_job_preview(kind=kind, params=params or {}, actor=engineer)
    return replay_job_start(job_id=job.pk, actor=engineer, dry_run=dry_run, rate_per_second=rate)


# --- Preview ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"team": "integration"},
        {"code": "SCHEMA_INVALID", "status": "open"},
        {"status": "in_progress"},
        {"status": ""},  # any status on the list; only the open ones are replayable
    ],
)
def test_preview_count_equals_the_exception_lists_count(
    query, make_failed, engineer, client, ap_analyst
):
    failed = make_failed(6)
    exception_resolve(
        exception_id=exception_of(failed[0]).pk, actor=ap_analyst, reason="fixed by hand"
    )
    item = exception_of(failed[1])
    item.status = "in_progress"
    item.save(update_fields=["status"])
    # An exception of another team's code, on a transaction of its own.
    exceptions_open(
        [ExceptionSpec(code="PRICE_VARIANCE", summary="x", transaction_id=failed[2].pk)]
    )

    client.force_login(engineer)
    listed = client.get(reverse("console:exception_list"), query).context["filterset"].qs
    job = replay_job_preview(kind=EXCEPTIONS, params=query, actor=engineer)

    open_listed = [row.pk for row in listed if row.is_open]
    assert job.total == len(open_listed)
    assert sorted(job.items.values_list("target_id", flat=True)) == sorted(open_listed)
    if query.get("status") != "":
        assert job.total == listed.count()  # the list shows open ones only: the same count
    assert job.status == "previewed"


def test_preview_count_equals_the_transaction_lists_count(make_failed, engineer, client):
    failed = make_failed(4)
    connector_id = failed[0].connector_id
    transaction_replay(transaction_id=failed[0].pk, actor=engineer)  # now received: not failed
    query = {"status": "exception", "connector": str(connector_id)}

    client.force_login(engineer)
    listed = client.get(reverse("console:transaction_list"), query).context["filterset"].qs
    job = replay_job_preview(kind=TRANSACTIONS, params=query, actor=engineer)

    assert job.total == listed.count() == 3
    assert set(job.items.values_list("target_id", "transaction_id")) == {
        (tx.pk, tx.pk) for tx in failed[1:]
    }
    # Without a status filter the list shows every transaction; replay takes the failed ones.
    job = replay_job_preview(kind=TRANSACTIONS, params={}, actor=engineer)
    assert job.total == 3


def test_preview_snapshots_oldest_first_with_the_transaction_of_each_exception(
    make_failed, engineer
):
    failed = make_failed(3)

    job = replay_job_preview(kind=EXCEPTIONS, params={}, actor=engineer)

    items = list(job.items.order_by("id").values_list("target_id", "transaction_id", "outcome"))
    assert items == sorted((exception_of(tx).pk, tx.pk, "pending") for tx in failed)
    assert job.filter_params == {"status": "active"}  # the list's default, applied and stored
    assert job.created_by == engineer


def test_preview_refuses_more_than_the_limit_and_writes_nothing(make_failed, engineer, settings):
    make_failed(5)
    settings.HUBCONSOLE = {**settings.HUBCONSOLE, "REPLAY_MAX_ITEMS": 4}

    with pytest.raises(HubError) as error:
        replay_job_preview(kind=EXCEPTIONS, params={}, actor=engineer)

    assert error.value.code == "REPLAY_JOB_TOO_LARGE"
    assert "matches 5 items" in error.value.message
    assert "at most 4" in error.value.message
    assert not ReplayJob.objects.exists()
    assert not ReplayJobItem.objects.exists()


@pytest.mark.parametrize(
    ("kind", "query"),
    [
        (EXCEPTIONS, {"team": "no-such-team"}),
        (EXCEPTIONS, {"opened_after": "yesterday"}),
        (TRANSACTIONS, {"status": "lost"}),
    ],
)
def test_preview_refuses_a_filter_the_list_would_half_ignore(kind, query, make_failed, engineer):
    make_failed(2)

    with pytest.raises(HubError) as error:
        replay_job_preview(kind=kind, params=query, actor=engineer)

    assert error.value.code == "REPLAY_FILTER_INVALID"
    assert not ReplayJob.objects.exists()


def test_preview_refuses_an_unknown_kind(engineer):
    with pytest.raises(HubError) as error:
        replay_job_preview(kind="documents", params={}, actor=engineer)

    assert error.value.code == "REPLAY_KIND_INVALID"


def _insert_failed_transactions(connector_id: int, count: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO pipeline_transaction
                (connector_id, direction, format, document_type, status, idempotency_key,
                 content_sha256, raw, raw_size, correlation_id, document_id, revision,
                 attempts, last_error_code, last_error, metadata, received_at, updated_at)
            SELECT %s, 'out', 'json', 'bulk.test', 'exception', 'bulk:' || g, '', '', 0,
                   'c' || g, 'D-' || g, 1, 1, 'TARGET_UNAVAILABLE', '', '{}', now(), now()
            FROM generate_series(1, %s) AS g
            """,
            [connector_id, count],
        )


def test_preview_snapshots_100000_ids_quickly(source, engineer, settings):
    _insert_failed_transactions(source.pk, 100_000)
    settings.HUBCONSOLE = {**settings.HUBCONSOLE, "REPLAY_MAX_ITEMS": 100_000}

    began = time.monotonic()
    job = replay_job_preview(
        kind=TRANSACTIONS,
        params={"status": "exception", "document_type": "bulk.test"},
        actor=engineer,
    )
    elapsed = time.monotonic() - began

    assert job.total == 100_000 == job.items.count()
    assert elapsed < 5, f"snapshot of 100,000 ids took {elapsed:.1f} s"


def test_preview_over_the_default_limit_is_refused_quickly(source, engineer):
    _insert_failed_transactions(source.pk, 100_000)

    began = time.monotonic()
    with pytest.raises(HubError) as error:
        replay_job_preview(kind=TRANSACTIONS, params={}, actor=engineer)

    assert error.value.code == "REPLAY_JOB_TOO_LARGE"
    assert "100,000" in error.value.message
    assert "50,000" in error.value.message
    assert time.monotonic() - began < 5


# --- Start -----------------------------------------------------------------------------------


def test_start_queues_the_runner_when_the_transaction_commits(
    make_failed, engineer, sent_tasks, django_capture_on_commit_callbacks
):
    make_failed(2)
    job = replay_job_preview(kind=EXCEPTIONS, params={}, actor=engineer)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        replay_job_start(job_id=job.pk, actor=engineer, dry_run=False, rate_per_second=35)
    assert sent_tasks == []  # nothing before the commit
    for callback in callbacks:
        callback()

    assert sent_tasks == [("replays.run", {"job_id": job.pk})]
    job.refresh_from_db()
    assert (job.status, job.rate_per_second, job.dry_run) == ("queued", 35, False)
    assert job.queued_at is not None


@pytest.mark.parametrize("rate", [0, 201, -5])
def test_start_refuses_a_throttle_out_of_range(rate, make_failed, engineer):
    make_failed(1)
    job = replay_job_preview(kind=EXCEPTIONS, params={}, actor=engineer)

    with pytest.raises(HubError) as error:
        replay_job_start(job_id=job.pk, actor=engineer, dry_run=False, rate_per_second=rate)

    assert error.value.code == "REPLAY_RATE_INVALID"


def test_start_refuses_a_job_someone_else_previewed_or_one_already_started(
    make_failed, engineer, django_user_model
):
    from django.contrib.auth.models import Group

    make_failed(1)
    other = django_user_model.objects.create_user("olivia", password="pw-olivia")
    other.groups.add(Group.objects.get(name="Integration engineer"))
    job = replay_job_preview(kind=EXCEPTIONS, params={}, actor=engineer)

    with pytest.raises(HubError) as error:
        replay_job_start(job_id=job.pk, actor=other, dry_run=False)
    assert error.value.code == "ACTION_NOT_ALLOWED"

    replay_job_start(job_id=job.pk, actor=engineer, dry_run=False)
    with pytest.raises(HubError) as error:
        replay_job_start(job_id=job.pk, actor=engineer, dry_run=False)
    assert error.value.code == "REPLAY_JOB_NOT_STARTABLE"


def test_start_refuses_an_empty_job(engineer, db):
    job = replay_job_preview(kind=EXCEPTIONS, params={}, actor=engineer)

    with pytest.raises(HubError) as error:
        replay_job_start(job_id=job.pk, actor=engineer, dry_run=False)

    assert error.value.code == "REPLAY_JOB_EMPTY"


def test_submit_refuses_when_the_filter_now_matches_more_than_previewed(make_failed, engineer):
    make_failed(3)

    with pytest.raises(HubError) as error:
        replay_job_submit(
            kind=EXCEPTIONS, params={}, actor=engineer, dry_run=False, expected_count=2
        )

    assert error.value.code == "REPLAY_COUNT_CHANGED"
    assert not ReplayJob.objects.exists()
    job = replay_job_submit(
        kind=EXCEPTIONS, params={}, actor=engineer, dry_run=True, expected_count=4
    )
    assert (job.status, job.total, job.dry_run) == ("queued", 3, True)


# --- Dry run ---------------------------------------------------------------------------------


@pytest.fixture
def mixed(make_failed, engineer, ap_analyst):
    """Five failed transactions snapshotted into a previewed exceptions job; then, before it
    runs, one exception is resolved by hand, one transaction is replayed singly, and one gets
    a second exception whose code forbids replay."""
    failed = make_failed(5)
    job = replay_job_preview(kind=EXCEPTIONS, params={}, actor=engineer)
    exception_resolve(exception_id=exception_of(failed[1]).pk, actor=ap_analyst, reason="done")
    transaction_replay(transaction_id=failed[2].pk, actor=engineer)
    exceptions_open(
        [
            ExceptionSpec(
                code="DUPLICATE_DIFFERENT_CONTENT", summary="clash", transaction_id=failed[3].pk
            )
        ]
    )
    return job, failed


def test_dry_run_replays_nothing_and_explains_what_a_real_run_would_refuse(
    mixed, engineer, sent_tasks, django_capture_on_commit_callbacks
):
    job, failed = mixed
    replay_job_start(job_id=job.pk, actor=engineer, dry_run=True)
    work_before = set(WorkItem.objects.values_list("transaction_id", flat=True))
    events_before = TransactionEvent.objects.count()
    activities_before = ExceptionActivity.objects.count()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert replay_job_run(job_id=job.pk) is True

    job.refresh_from_db()
    assert (job.status, job.would_replay, job.refused, job.replayed, job.skipped) == (
        "done",
        2,
        3,
        0,
        0,
    )
    items = {item.transaction_id: item for item in job.items.all()}
    assert items[failed[0].pk].outcome == "would_replay"
    assert items[failed[4].pk].outcome == "would_replay"
    assert (items[failed[1].pk].code, items[failed[1].pk].message) == (
        "EXCEPTION_CLOSED",
        "This exception is already closed.",
    )
    assert items[failed[2].pk].code == "REPLAY_NOT_ALLOWED"
    assert "this one is received" in items[failed[2].pk].message
    assert items[failed[3].pk].code == "ACTION_NOT_ALLOWED"
    assert "DUPLICATE_DIFFERENT_CONTENT" in items[failed[3].pk].message
    # Nothing of the simulated replays stayed, and no doorbell rang for them.
    assert set(WorkItem.objects.values_list("transaction_id", flat=True)) == work_before
    assert TransactionEvent.objects.count() == events_before
    assert ExceptionActivity.objects.count() == activities_before
    assert Transaction.objects.get(pk=failed[0].pk).status == "exception"
    assert callbacks == []
    assert [name for name, _ in sent_tasks if name.startswith("pipeline.")] == []


# --- Real runs -------------------------------------------------------------------------------


def test_run_replays_each_item_once_as_its_creator(make_failed, engineer):
    failed = make_failed(4)
    job = started(engineer)

    assert replay_job_run(job_id=job.pk) is True

    job.refresh_from_db()
    assert (job.status, job.total, job.replayed, job.refused, job.skipped) == ("done", 4, 4, 0, 0)
    assert job.started_at is not None
    assert job.finished_at >= job.started_at
    assert set(outcomes(job).values()) == {"replayed"}
    assert replayed_events(failed) == [tx.pk for tx in failed]
    assert set(
        TransactionEvent.objects.filter(kind=Kind.REPLAYED).values_list("actor", flat=True)
    ) == {engineer.pk}
    work = WorkItem.objects.filter(transaction__in=failed)
    assert sorted(work.values_list("transaction_id", flat=True)) == [tx.pk for tx in failed]
    assert set(work.values_list("actor", flat=True)) == {engineer.pk}
    assert set(
        Transaction.objects.filter(pk__in=[t.pk for t in failed]).values_list("status", flat=True)
    ) == {"received"}
    activity = ExceptionActivity.objects.filter(kind="replay_requested")
    assert set(activity.values_list("actor", flat=True)) == {engineer.pk}
    assert activity.count() == 4

    # Running a finished job again does nothing.
    assert replay_job_run(job_id=job.pk) is True
    assert replayed_events(failed) == [tx.pk for tx in failed]


def test_run_records_refusals_and_carries_on(mixed, engineer):
    job, failed = mixed
    replay_job_start(job_id=job.pk, actor=engineer, dry_run=False, rate_per_second=200)

    replay_job_run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.replayed, job.refused) == ("done", 2, 3)
    refused = dict(job.items.filter(outcome="refused").values_list("transaction_id", "code"))
    assert refused == {
        failed[1].pk: "EXCEPTION_CLOSED",
        failed[2].pk: "REPLAY_NOT_ALLOWED",
        failed[3].pk: "ACTION_NOT_ALLOWED",
    }
    # The singly replayed transaction was not replayed a second time.
    assert replayed_events(failed) == sorted([failed[0].pk, failed[2].pk, failed[4].pk])


def test_two_exceptions_on_one_transaction_replay_it_once(make_failed, engineer):
    (tx,) = make_failed(1)
    exceptions_open([ExceptionSpec(code="PRICE_VARIANCE", summary="x", transaction_id=tx.pk)])
    job = started(engineer)
    assert job.total == 2

    replay_job_run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.replayed, job.skipped, job.refused) == (1, 1, 0)
    skipped = job.items.get(outcome="skipped")
    assert skipped.code == "ALREADY_REPLAYED"
    assert replayed_events([tx]) == [tx.pk]


def test_a_transaction_gone_meanwhile_is_refused_not_fatal(make_failed, engineer):
    failed = make_failed(2)
    job = started(engineer, kind=TRANSACTIONS)
    ReplayJobItem.objects.filter(job=job, target_id=failed[0].pk).update(target_id=10**12)

    replay_job_run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.replayed, job.refused) == ("done", 1, 1)
    assert job.items.get(target_id=10**12).code == "NOT_FOUND"


def test_cancel_stops_the_run_between_batches(make_failed, engineer, monkeypatch):
    failed = make_failed(6)
    job = started(engineer, kind=TRANSACTIONS, rate=4)  # batches of one item
    pauses = []

    def pause(seconds):
        pauses.append(seconds)
        if len(pauses) == 2:
            replay_job_cancel(job_id=job.pk, actor=engineer)

    monkeypatch.setattr(services, "_pause", pause)

    assert replay_job_run(job_id=job.pk) is True

    job.refresh_from_db()
    assert (job.status, job.replayed, job.skipped, job.cancelled_by) == (
        "cancelled",
        2,
        4,
        engineer,
    )
    assert len(pauses) == 2  # stopped at the next batch, not at the end
    assert len(replayed_events(failed)) == 2
    assert not job.items.filter(outcome="pending").exists()
    assert job.items.filter(code="CANCELLED").count() == 4


def test_cancel_refuses_a_finished_job(make_failed, engineer):
    make_failed(1)
    job = started(engineer)
    replay_job_run(job_id=job.pk)

    with pytest.raises(HubError) as error:
        replay_job_cancel(job_id=job.pk, actor=engineer)

    assert error.value.code == "REPLAY_JOB_FINISHED"


class WorkerKilled(BaseException):
    """Stands for SIGKILL: nothing in the runner catches it."""


def test_run_resumes_after_a_crash_without_replaying_twice(make_failed, engineer, monkeypatch):
    failed = make_failed(7)
    job = started(engineer, kind=TRANSACTIONS, rate=8)  # batches of two
    calls = []

    def dying_replay(*, transaction_id, actor):
        calls.append(transaction_id)
        if len(calls) == 4:  # the second item of the second batch
            raise WorkerKilled
        return transaction_replay(transaction_id=transaction_id, actor=actor)

    monkeypatch.setattr(services, "transaction_replay", dying_replay)
    monkeypatch.setattr(services, "_pause", lambda seconds: None)
    with pytest.raises(WorkerKilled):
        replay_job_run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.replayed) == ("running", 2)  # the first batch committed
    assert replayed_events(failed) == [failed[0].pk, failed[1].pk]
    assert job.items.filter(outcome="pending").count() == 5

    monkeypatch.setattr(services, "transaction_replay", transaction_replay)
    assert replay_job_run(job_id=job.pk) is True

    job.refresh_from_db()
    assert (job.status, job.replayed, job.total) == ("done", 7, 7)
    assert replayed_events(failed) == [tx.pk for tx in failed]  # each exactly once


def test_run_stops_at_its_budget_and_a_second_call_carries_on(make_failed, engineer):
    failed = make_failed(3)
    job = started(engineer, kind=TRANSACTIONS, rate=4)  # one item, then a quarter second

    assert replay_job_run(job_id=job.pk, budget_seconds=0.1) is False
    assert ReplayJob.objects.get(pk=job.pk).replayed == 1
    assert replay_job_run(job_id=job.pk) is True
    assert replayed_events(failed) == [tx.pk for tx in failed]


def test_a_second_runner_of_the_same_job_stands_aside(make_failed, engineer):
    make_failed(2)
    job = started(engineer)
    with services._runner_lock(job.pk) as held:
        assert held
        # Another connection's runner would see the lock taken; in this session the lock is
        # re-entrant, so ask PostgreSQL from a second connection.
        from django.db import connections

        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_try_advisory_lock(%s, %s)", [services._RUNNER_LOCK, job.pk]
                )
                assert cursor.fetchone()[0] is False
        finally:
            other.close()


def test_a_failed_job_resumes_with_its_pending_items(make_failed, engineer, monkeypatch):
    failed = make_failed(3)
    job = started(engineer, kind=TRANSACTIONS)

    def broken(**kwargs):
        raise RuntimeError("the replay service is broken")

    monkeypatch.setattr(services, "_run_batch", broken)
    with pytest.raises(RuntimeError):
        replay_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "failed"
    assert "RuntimeError: the replay service is broken" in job.last_error

    monkeypatch.undo()
    replay_job_resume(job_id=job.pk, actor=engineer)
    assert ReplayJob.objects.get(pk=job.pk).status == "queued"
    replay_job_run(job_id=job.pk)
    assert ReplayJob.objects.get(pk=job.pk).status == "done"
    assert replayed_events(failed) == [tx.pk for tx in failed]


def test_resume_refuses_a_job_that_is_running_fine(make_failed, engineer):
    make_failed(1)
    job = started(engineer)

    with pytest.raises(HubError) as error:
        replay_job_resume(job_id=job.pk, actor=engineer)

    assert error.value.code == "REPLAY_JOB_NOT_STALLED"


def test_redrive_queues_a_job_whose_worker_was_lost(make_failed, engineer, sent_tasks):
    make_failed(1)
    stalled = started(engineer)
    fresh = started(engineer)
    ReplayJob.objects.filter(pk=stalled.pk).update(queued_at="2000-01-01T00:00:00Z")
    ReplayJob.objects.filter(pk=fresh.pk).update(
        status="running", heartbeat_at="2099-01-01T00:00:00Z"
    )

    assert services.replay_jobs_redrive() == 1

    assert sent_tasks == [("replays.run", {"job_id": stalled.pk})]


# --- The throttle ----------------------------------------------------------------------------


def test_throttle_replays_at_most_rate_per_second(make_failed, engineer, monkeypatch):
    failed = make_failed(6)
    job = started(engineer, kind=TRANSACTIONS, rate=5)  # one item every 0.2 s
    calls = []

    def timed_replay(**kwargs):
        calls.append(time.monotonic())
        return transaction_replay(**kwargs)

    monkeypatch.setattr(services, "transaction_replay", timed_replay)

    began = time.monotonic()
    replay_job_run(job_id=job.pk)
    elapsed = time.monotonic() - began

    assert ReplayJob.objects.get(pk=job.pk).replayed == 6
    assert replayed_events(failed) == [tx.pk for tx in failed]
    assert elapsed >= 5 * 0.2 - 0.02  # five gaps: no pause after the last item
    # Any run of n consecutive replays spans at least n gaps of 0.2 s (less a little jitter
    # between a batch's start, which is what is paced, and its replay call).
    for i, j in itertools.combinations(range(len(calls)), 2):
        assert calls[j] - calls[i] >= (j - i) * 0.2 - 0.03, (i, j, calls)
    # ...and no slower than it must be.
    assert elapsed < 2.0


def test_a_high_rate_is_not_slowed_down(make_failed, engineer):
    make_failed(6)
    job = started(engineer, kind=TRANSACTIONS, rate=200)

    began = time.monotonic()
    replay_job_run(job_id=job.pk)

    assert time.monotonic() - began < 1.0  # paced, it would take 1.0 s or more
    assert ReplayJob.objects.get(pk=job.pk).replayed == 6


def test_refusals_do_not_use_up_the_throttle(make_failed, engineer, ap_analyst):
    failed = make_failed(6)
    job = replay_job_preview(kind=EXCEPTIONS, params={}, actor=engineer)
    for tx in failed:
        exception_resolve(exception_id=exception_of(tx).pk, actor=ap_analyst, reason="done")
    replay_job_start(job_id=job.pk, actor=engineer, dry_run=False, rate_per_second=2)

    began = time.monotonic()
    replay_job_run(job_id=job.pk)

    assert time.monotonic() - began < 1.0  # paced, it would take 1.0 s or more
    assert ReplayJob.objects.get(pk=job.pk).refused == 6


# --- Permissions -----------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["viewer", "ap_analyst", "steward", "auditor", "outsider"])
def test_every_service_refuses_a_person_without_bulk_replay(
    request, persona, make_failed, engineer
):
    make_failed(2)
    user = request.getfixturevalue(persona)
    job = replay_job_preview(kind=EXCEPTIONS, params={}, actor=engineer)
    running = started(engineer)

    calls = [
        lambda: replay_job_preview(kind=EXCEPTIONS, params={}, actor=user),
        lambda: replay_job_submit(kind=EXCEPTIONS, params={}, actor=user, dry_run=True),
        lambda: replay_job_start(job_id=job.pk, actor=user, dry_run=False),
        lambda: replay_job_cancel(job_id=running.pk, actor=user),
        lambda: replay_job_resume(job_id=running.pk, actor=user),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied) as error:
            call()
        assert error.value.code == "PERMISSION_DENIED"
    assert ReplayJob.objects.count() == 2
    assert ReplayJob.objects.get(pk=running.pk).status == "queued"


def test_nobody_anonymous_may_preview(db):
    with pytest.raises(PermissionDenied):
        replay_job_preview(kind=EXCEPTIONS, params={}, actor=None)


def test_the_runner_fails_a_job_whose_creator_lost_bulk_replay(make_failed, engineer):
    failed = make_failed(2)
    job = started(engineer)
    engineer.groups.clear()
    engineer = type(engineer).objects.get(pk=engineer.pk)  # no cached permissions

    replay_job_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == "failed"
    assert "may no longer replay in bulk" in job.last_error
    assert replayed_events(failed) == []


def test_an_unexpected_error_on_one_item_is_recorded_and_the_rest_replay(
    make_failed, engineer, monkeypatch
):
    failed = make_failed(3)
    job = started(engineer, kind=TRANSACTIONS)

    def replay(*, transaction_id, actor):
        if transaction_id == failed[1].pk:
            raise ValueError("a processor bug")
        return transaction_replay(transaction_id=transaction_id, actor=actor)

    monkeypatch.setattr(services, "transaction_replay", replay)

    assert replay_job_run(job_id=job.pk) is True

    job.refresh_from_db()
    assert (job.status, job.replayed, job.refused) == ("done", 2, 1)
    item = job.items.get(target_id=failed[1].pk)
    assert (item.code, item.message) == ("REPLAY_ERROR", "Unexpected error (ValueError).")
    assert replayed_events(failed) == [failed[0].pk, failed[2].pk]
