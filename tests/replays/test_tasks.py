"""The replays.run task: ids only, a slice of work at a time, queued again for the rest."""

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from apps.replays import tasks
from apps.replays.models import ReplayJob
from apps.replays.services import replay_job_preview, replay_job_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def requeued(monkeypatch):
    calls = []
    monkeypatch.setattr(tasks.run, "apply_async", lambda **options: calls.append(options))
    return calls


def test_the_runner_works_one_slice_and_queues_itself_for_the_rest(
    make_failed, engineer, requeued, monkeypatch
):
    make_failed(3)
    job = replay_job_preview(kind="transactions", params={}, actor=engineer)
    replay_job_start(job_id=job.pk, actor=engineer, dry_run=False, rate_per_second=4)
    monkeypatch.setattr(tasks, "SLICE_SECONDS", 0.1)  # one item, then the slice is spent

    assert tasks.run(job_id=job.pk) is False

    assert requeued == [{"kwargs": {"job_id": job.pk}}]
    assert ReplayJob.objects.get(pk=job.pk).replayed == 1
    monkeypatch.setattr(tasks, "SLICE_SECONDS", 10)
    assert tasks.run(job_id=job.pk) is True
    assert len(requeued) == 1  # finished: not queued again
    assert ReplayJob.objects.get(pk=job.pk).status == "done"


def test_the_soft_time_limit_queues_the_rest_instead_of_failing(
    make_failed, engineer, requeued, monkeypatch
):
    make_failed(1)
    job = replay_job_preview(kind="transactions", params={}, actor=engineer)
    replay_job_start(job_id=job.pk, actor=engineer, dry_run=False)

    def interrupted(**kwargs):
        raise SoftTimeLimitExceeded

    monkeypatch.setattr(tasks, "replay_job_run", interrupted)

    assert tasks.run(job_id=job.pk) is False
    assert requeued == [{"kwargs": {"job_id": job.pk}}]
    assert ReplayJob.objects.get(pk=job.pk).status == "queued"


def test_the_tasks_are_routed_to_the_maintenance_queue():
    router = tasks.run.app.amqp.router
    for name in ("replays.run", "replays.redrive"):
        assert router.route({}, name, args=(), kwargs={})["queue"].name == "maintenance"
