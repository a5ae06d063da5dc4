"""Bulk replay services: snapshot what a filter matches, start, cancel, resume, and the runner
that replays the items in throttled batches through the single-replay services."""

import logging
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from celery import current_app
from celery.exceptions import SoftTimeLimitExceeded
from django.core.exceptions import ObjectDoesNotExist
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from apps.core.audit import acting_as
from apps.core.errors import HubError, PermissionDenied
from apps.pipeline.services import exception_replay, transaction_replay
from apps.replays.choices import (
    ACTIVE_STATUSES,
    ReplayJobItemOutcomeChoices,
    ReplayJobKindChoices,
    ReplayJobStatusChoices,
)
from apps.replays.models import RATE_DEFAULT, RATE_MAX, ReplayJob, ReplayJobItem
from apps.replays.selectors import (
    BULK_PERMISSION,
    replay_candidates,
    replay_filter_params,
    replay_kind,
    replay_max_items,
)

logger = logging.getLogger(__name__)

Outcome = ReplayJobItemOutcomeChoices
Status = ReplayJobStatusChoices

RUN_TASK = "replays.run"
# Items per batch, real runs: about four batches a second at any rate, so the target sees an
# even trickle, a cancel is seen within a quarter of a second, and a batch (one database
# transaction) stays short. Dry runs send nothing and take larger batches.
BATCH_MAX = 50
DRY_RUN_BATCH = 100
# A queued or running job with no batch committed for this long, and no runner holding it,
# has lost its worker (or its task): resume and redrive queue it again.
STALL_SECONDS = 120
# Advisory-lock namespace of replay runners: (this, job id) is held while a runner works on a
# job, so two tasks for one job never run at once and the throttle holds. Connector pickups
# use 7301 in the same two-key space.
_RUNNER_LOCK = 7302


def _require(actor) -> None:
    if actor is None or not actor.has_perm(BULK_PERMISSION):
        raise PermissionDenied("You may not replay in bulk.")


def _locked(job_id: int) -> ReplayJob:
    return ReplayJob.objects.select_for_update().get(pk=job_id)


def _enqueue(job_id: int) -> None:
    """Ring for a runner. Never raises: a job whose task is lost is queued again by
    replay_jobs_redrive or its Resume button; nothing of it is lost."""
    try:
        current_app.send_task(RUN_TASK, kwargs={"job_id": job_id}, retry=False)
    except Exception as error:
        logger.warning("replay job %s not queued (%s); the redrive will queue it", job_id, error)


# --- Preview, start, cancel, resume (people) -----------------------------------------------


@transaction.atomic
def replay_job_preview(*, kind: str, params, actor) -> ReplayJob:
    """Snapshot the ids a bulk replay with this filter takes into a new previewed job.

    The filter is the list screen's own FilterSet with the list's defaults (see
    ``replay_candidates``). The ids are copied in one INSERT ... SELECT, oldest first, so a
    job of 50,000 costs one statement. More than ``replay_max_items()`` is refused with
    REPLAY_JOB_TOO_LARGE and nothing is written.
    """
    _require(actor)
    kind = replay_kind(kind)
    candidates = replay_candidates(kind=kind, params=params)
    job = ReplayJob.objects.create(
        kind=kind,
        filter_params=replay_filter_params(kind=kind, params=params),
        created_by=actor,
    )
    limit = replay_max_items()
    if kind == ReplayJobKindChoices.EXCEPTIONS:
        rows, transaction_column = candidates.values_list("id", "transaction_id"), "q.c2"
        columns = "c1, c2"
    else:
        rows, transaction_column, columns = candidates.values_list("id"), "q.c1", "c1"
    sql, sql_params = rows.order_by("id")[: limit + 1].query.sql_with_params()
    with connection.cursor() as cursor:
        # The SELECT is the ORM's own SQL for the FilterSet's queryset, with its parameters.
        cursor.execute(
            f"""
            INSERT INTO replays_replayjobitem
                   (job_id, target_id, transaction_id, outcome, code, message)
            SELECT %s, q.c1, {transaction_column}, %s, '', ''
            FROM ({sql}) AS q({columns})
            ON CONFLICT (job_id, target_id) DO NOTHING
            """,  # noqa: S608
            [job.pk, Outcome.PENDING, *sql_params],
        )
        total = cursor.rowcount
    if total > limit:
        matching = candidates.order_by().count()
        raise HubError(
            "REPLAY_JOB_TOO_LARGE",
            f"This filter matches {matching:,} items; one bulk replay takes at most {limit:,}. "
            "Narrow the filter (by team, code, connector or date) and replay in parts.",
        )
    job.total = total
    job.status = Status.PREVIEWED
    job.save(update_fields=["total", "status"])
    return job


def _rate(rate_per_second) -> int:
    if rate_per_second is None:
        return RATE_DEFAULT
    if isinstance(rate_per_second, bool) or not isinstance(rate_per_second, int):
        raise HubError("REPLAY_RATE_INVALID", "The throttle must be a whole number per second.")
    if not 1 <= rate_per_second <= RATE_MAX:
        raise HubError(
            "REPLAY_RATE_INVALID", f"The throttle must be between 1 and {RATE_MAX} per second."
        )
    return rate_per_second


@transaction.atomic
def replay_job_start(
    *, job_id: int, actor, dry_run: bool, rate_per_second: int | None = None
) -> ReplayJob:
    """Queue a previewed job for a worker (on commit). Its replays run as ``actor``, who must
    be the person who previewed it."""
    _require(actor)
    rate = _rate(rate_per_second)
    job = _locked(job_id)
    if job.created_by_id != actor.pk:
        raise HubError(
            "ACTION_NOT_ALLOWED",
            "Only the person who previewed a bulk replay may start it: its replays are theirs.",
        )
    if job.status != Status.PREVIEWED:
        raise HubError(
            "REPLAY_JOB_NOT_STARTABLE",
            f"This job is {job.get_status_display().lower()}; only a previewed job can start.",
        )
    if job.total == 0:
        raise HubError("REPLAY_JOB_EMPTY", "Nothing matches this filter: nothing to replay.")
    job.dry_run = bool(dry_run)
    job.rate_per_second = rate
    job.status = Status.QUEUED
    job.queued_at = timezone.now()
    job.save(update_fields=["dry_run", "rate_per_second", "status", "queued_at"])
    transaction.on_commit(lambda: _enqueue(job.pk))
    return job


@transaction.atomic
def replay_job_submit(
    *,
    kind: str,
    params,
    actor,
    dry_run: bool,
    rate_per_second: int | None = None,
    expected_count: int | None = None,
) -> ReplayJob:
    """Preview and start in one step (the "Replay N items" and "Dry run" buttons).

    ``expected_count`` is the count the person saw: if the filter now matches more, nothing
    is started (REPLAY_COUNT_CHANGED), since they approved N items, not more. Fewer is fine
    (some were resolved meanwhile); the job's total says how many.
    """
    job = replay_job_preview(kind=kind, params=params, actor=actor)
    if expected_count is not None and job.total > expected_count:
        raise HubError(
            "REPLAY_COUNT_CHANGED",
            f"The filter now matches {job.total:,} items, more than the {expected_count:,} "
            "you previewed. Check the preview again.",
        )
    return replay_job_start(
        job_id=job.pk, actor=actor, dry_run=dry_run, rate_per_second=rate_per_second
    )


@transaction.atomic
def replay_job_cancel(*, job_id: int, actor) -> ReplayJob:
    """Stop a job: items not yet handled become skipped. Anyone who may replay in bulk may
    cancel (the engineer on call stops a colleague's job). A batch in flight finishes first:
    its row locks make this wait for it (a fraction of a second), never the other way."""
    _require(actor)
    job = _locked(job_id)
    if job.status not in ACTIVE_STATUSES:
        raise HubError(
            "REPLAY_JOB_FINISHED", f"This job is already {job.get_status_display().lower()}."
        )
    now = timezone.now()
    skipped = ReplayJobItem.objects.filter(job_id=job.pk, outcome=Outcome.PENDING).update(
        outcome=Outcome.SKIPPED,
        code="CANCELLED",
        message=f"Cancelled by {actor.get_username()} before it was replayed.",
        handled_at=now,
    )
    job.skipped += skipped
    job.status = Status.CANCELLED
    job.cancelled_by = actor
    job.finished_at = now
    job.save(update_fields=["skipped", "status", "cancelled_by", "finished_at"])
    return job


@contextmanager
def _runner_lock(job_id: int) -> Iterator[bool]:
    """Hold the job's runner lock for the block; yields whether it was free. Session-level,
    so a worker that dies releases it with its connection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_RUNNER_LOCK, job_id])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_RUNNER_LOCK, job_id])


def replay_job_stalled(job: ReplayJob) -> bool:
    """Whether an unfinished job has lost its worker: nothing committed for STALL_SECONDS and
    no runner holding it."""
    if job.status == Status.FAILED:
        return True
    if job.status not in (Status.QUEUED, Status.RUNNING):
        return False
    last = job.heartbeat_at or job.queued_at or job.created_at
    if (timezone.now() - last).total_seconds() < STALL_SECONDS:
        return False
    with _runner_lock(job.pk) as free:
        return free


@transaction.atomic
def replay_job_resume(*, job_id: int, actor) -> ReplayJob:
    """Queue again a job that failed or lost its worker; it carries on with its pending
    items (the ones handled before are never replayed twice)."""
    _require(actor)
    job = _locked(job_id)
    if not replay_job_stalled(job):
        raise HubError(
            "REPLAY_JOB_NOT_STALLED",
            f"This job is {job.get_status_display().lower()}; only a failed or stalled job "
            "can be resumed.",
        )
    job.status = Status.QUEUED
    job.queued_at = timezone.now()
    job.finished_at = None
    job.save(update_fields=["status", "queued_at", "finished_at"])
    transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def replay_jobs_redrive() -> int:
    """Queue again every queued or running job that lost its worker or its task (a broker
    restart, a killed worker). A duplicate task is harmless: the runner lock lets one run."""
    cutoff = timezone.now() - timedelta(seconds=STALL_SECONDS)
    candidates = ReplayJob.objects.filter(status__in=(Status.QUEUED, Status.RUNNING)).values_list(
        "id", "heartbeat_at", "queued_at"
    )
    redriven = 0
    for job_id, heartbeat_at, queued_at in candidates:
        last = heartbeat_at or queued_at
        if last is not None and last > cutoff:
            continue
        with _runner_lock(job_id) as free:
            if not free:
                continue
        _enqueue(job_id)
        redriven += 1
    return redriven


# --- The runner (workers) ------------------------------------------------------------------


class _DryRun(Exception):
    """Raised after a successful replay in a dry run, to roll its savepoint back."""


@dataclass(frozen=True)
class _Batch:
    finished: bool
    replayed: int = 0


def _pause(seconds: float) -> None:
    time.sleep(seconds)


class _Pacer:
    """The throttle: every replayed item costs 1/rate seconds of the job's time, and a batch
    starts only once the items before it are paid for. Refusals are free (they send
    nothing), and time spent idle is not saved up as a burst."""

    def __init__(self, rate: int):
        self.interval = 1.0 / rate
        self.paid_until = 0.0

    def wait(self, *, replayed: int, batch_started: float) -> None:
        self.paid_until = max(self.paid_until, batch_started) + replayed * self.interval
        delay = self.paid_until - time.monotonic()
        if delay > 0:
            _pause(delay)


def _batch_size(job: ReplayJob) -> int:
    if job.dry_run:
        return DRY_RUN_BATCH
    return max(1, min(BATCH_MAX, job.rate_per_second // 4))


def _may_run(actor) -> bool:
    return actor.is_active and actor.has_perm(BULK_PERMISSION)


@transaction.atomic
def _run_begin(job_id: int) -> ReplayJob | None:
    try:
        job = ReplayJob.objects.select_for_update(of=("self",)).select_related("created_by")
        job = job.get(pk=job_id)
    except ReplayJob.DoesNotExist:
        return None
    if job.status == Status.QUEUED:
        job.status = Status.RUNNING
        job.started_at = job.started_at or timezone.now()
        job.heartbeat_at = timezone.now()
        job.save(update_fields=["status", "started_at", "heartbeat_at"])
    elif job.status != Status.RUNNING:
        return None
    return job


@transaction.atomic
def _run_fail(job_id: int, message: str) -> None:
    job = _locked(job_id)
    if job.status in (Status.QUEUED, Status.RUNNING):
        job.status = Status.FAILED
        job.finished_at = timezone.now()
        job.last_error = message[:4000]
        job.save(update_fields=["status", "finished_at", "last_error"])


def _attempt(job: ReplayJob, item: ReplayJobItem, actor) -> tuple[str, str, str]:
    """Replay one item through the single-replay service; its refusal is the item's outcome.

    A dry run makes the very same call in a savepoint that is always rolled back: the rules
    applied are the real ones, and nothing stays (no work item, event, activity or audit row;
    Django drops the on-commit doorbell of a rolled-back savepoint)."""
    noun = "exception" if job.kind == ReplayJobKindChoices.EXCEPTIONS else "transaction"
    try:
        with transaction.atomic():
            if job.kind == ReplayJobKindChoices.EXCEPTIONS:
                exception_replay(exception_id=item.target_id, actor=actor)
            else:
                transaction_replay(transaction_id=item.target_id, actor=actor)
            if job.dry_run:
                raise _DryRun
    except _DryRun:
        return Outcome.WOULD_REPLAY, "", "A real run would replay it."
    except HubError as error:
        return Outcome.REFUSED, error.code, error.message
    except ObjectDoesNotExist:
        return Outcome.REFUSED, "NOT_FOUND", f"This {noun} no longer exists."
    except (SoftTimeLimitExceeded, OperationalError, InterfaceError):
        raise  # the worker or the database is in trouble, not this item: the batch rolls back
    except Exception as error:
        # One odd item must not stop 50,000: record it, log it, carry on.
        logger.exception("replay job %s: %s %s failed unexpectedly", job.pk, noun, item.target_id)
        return Outcome.REFUSED, "REPLAY_ERROR", f"Unexpected error ({type(error).__name__})."
    return Outcome.REPLAYED, "", ""


@transaction.atomic
def _run_batch(*, job_id: int, actor, size: int) -> _Batch:
    # The job row first, then the items: the order replay_job_cancel takes them in.
    job = _locked(job_id)
    if job.status != Status.RUNNING:
        return _Batch(finished=True)
    items = list(
        ReplayJobItem.objects.filter(job_id=job_id, outcome=Outcome.PENDING)
        .order_by("id")
        .select_for_update(skip_locked=True)[:size]
    )
    # Two exceptions on one transaction: the first replays it, the second has nothing left
    # to do (the transaction is queued, and its exceptions resolve when it succeeds).
    done_for = dict(
        ReplayJobItem.objects.filter(
            job_id=job_id,
            transaction_id__in={item.transaction_id for item in items} - {None},
            outcome__in=(Outcome.REPLAYED, Outcome.WOULD_REPLAY),
        ).values_list("transaction_id", "target_id")
    )
    tally: Counter[str] = Counter()
    now = timezone.now()
    for item in items:
        if job.kind == ReplayJobKindChoices.EXCEPTIONS and item.transaction_id in done_for:
            outcome, code = Outcome.SKIPPED, "ALREADY_REPLAYED"
            message = (
                f"Transaction {item.transaction_id} "
                f"{'would be' if job.dry_run else 'was'} replayed by this job already, "
                f"for exception {done_for[item.transaction_id]}."
            )
        else:
            outcome, code, message = _attempt(job, item, actor)
        if outcome in (Outcome.REPLAYED, Outcome.WOULD_REPLAY) and item.transaction_id:
            done_for[item.transaction_id] = item.target_id
        item.outcome, item.code, item.message, item.handled_at = outcome, code, message, now
        tally[outcome] += 1
    ReplayJobItem.objects.bulk_update(items, ["outcome", "code", "message", "handled_at"])
    job.replayed += tally[Outcome.REPLAYED]
    job.would_replay += tally[Outcome.WOULD_REPLAY]
    job.refused += tally[Outcome.REFUSED]
    job.skipped += tally[Outcome.SKIPPED]
    job.heartbeat_at = now
    finished = not ReplayJobItem.objects.filter(job_id=job_id, outcome=Outcome.PENDING).exists()
    if finished:
        job.status = Status.DONE
        job.finished_at = now
    job.save(
        update_fields=[
            "replayed",
            "would_replay",
            "refused",
            "skipped",
            "heartbeat_at",
            "status",
            "finished_at",
        ]
    )
    return _Batch(finished=finished, replayed=tally[Outcome.REPLAYED])


def replay_job_run(*, job_id: int, budget_seconds: float | None = None) -> bool:
    """Work on a queued or running job: its pending items in batches, each through
    ``exception_replay`` / ``transaction_replay`` as the job's creator, at most
    ``rate_per_second`` replays a second, until none is pending, the job is cancelled, or
    ``budget_seconds`` is spent.

    Returns False when the budget ran out with items still pending (queue it again), True
    when nothing is left for a worker. Safe to call again at any point, also after a crash:
    an item and its outcome commit together, so only pending items are taken and none is
    replayed twice; two runners of one job never overlap (an advisory lock).
    """
    deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
    with _runner_lock(job_id) as held:
        if not held:
            return True  # another runner has the job and carries on with it
        job = _run_begin(job_id)
        if job is None:
            return True
        actor = job.created_by
        if not _may_run(actor):
            _run_fail(job_id, f"{actor.get_username()} may no longer replay in bulk.")
            return True
        pacer = None if job.dry_run else _Pacer(job.rate_per_second)
        size = _batch_size(job)
        try:
            with acting_as(actor):
                while deadline is None or time.monotonic() < deadline:
                    started = time.monotonic()
                    batch = _run_batch(job_id=job_id, actor=actor, size=size)
                    if batch.finished:
                        return True
                    if pacer is not None:
                        pacer.wait(replayed=batch.replayed, batch_started=started)
                return False
        except SoftTimeLimitExceeded:
            raise  # the task queues the rest; the batch in flight rolled back
        except Exception as error:
            logger.exception("replay job %s failed", job_id)
            try:
                _run_fail(job_id, f"{type(error).__name__}: {error}")
            except Exception:  # the database itself is gone; the redrive finds the job later
                logger.exception("replay job %s: could not record the failure", job_id)
            raise
