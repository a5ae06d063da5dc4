"""A bulk replay through a real Celery worker and the real sandbox ERP: 200 deliveries that
exhausted their retries while the ERP answered 503 are replayed after it recovers, and the
ERP holds each posting exactly once."""

import pytest

from apps.exceptions.models import BusinessException
from apps.pipeline.choices import WorkStageChoices as Stage
from apps.pipeline.models import Transaction, WorkItem
from apps.pipeline.services import work_drain
from apps.replays.models import ReplayJob
from apps.replays.services import replay_job_submit
from apps.sandbox.models import SandboxPosting
from tests.conftest import make_rest_target, make_webhook, wait_until
from tests.pipeline.builders import receive_json

pytestmark = pytest.mark.slow

COUNT = 200


@pytest.fixture
def outage(sandbox, sandbox_url):
    """COUNT deliveries to the sandbox ERP that failed twice with 503 and became exceptions."""
    target = make_rest_target(
        f"{sandbox_url}/targets/erp/documents", max_attempts=2, breaker_threshold=100_000
    )
    source = make_webhook(target)
    sandbox.post("/faults", json={"target": "erp", "mode": "status", "status": 503, "count": 10**6})
    for n in range(COUNT):
        receive_json(source, {"id": f"REQ-{n}", "po_number": f"PO-{n}"})
    assert work_drain(stage=Stage.PROCESS) == COUNT
    work_drain(stage=Stage.DELIVER)
    WorkItem.objects.update(available_at="2000-01-01T00:00:00Z")
    work_drain(stage=Stage.DELIVER)
    failed = Transaction.objects.filter(direction="out", status="exception")
    assert failed.count() == COUNT
    assert (
        BusinessException.objects.filter(code="RETRIES_EXHAUSTED", status="open").count() == COUNT
    )
    assert not SandboxPosting.objects.exists()
    sandbox.delete("/faults")  # the ERP is back
    return failed


def test_bulk_replay_after_an_outage_posts_each_document_once(outage, start_worker, engineer):
    start_worker(queues="maintenance", concurrency=1)
    start_worker(queues="processing,delivery", concurrency=2)

    job = replay_job_submit(
        kind="exceptions",
        params={"code": "RETRIES_EXHAUSTED"},
        actor=engineer,
        dry_run=False,
        rate_per_second=100,
        expected_count=COUNT,
    )

    def finished():
        job.refresh_from_db()
        return job.status == "done"

    wait_until(finished, timeout=60, interval=0.5, message="the replay job to finish")
    assert (job.total, job.replayed, job.refused, job.skipped) == (COUNT, COUNT, 0, 0)
    # At 100 a second in batches of 25, the eighth and last batch starts 1.75 s in.
    assert (job.finished_at - job.started_at).total_seconds() >= 1.7

    def all_resolved():
        return not BusinessException.objects.filter(status="open").exists()

    wait_until(all_resolved, timeout=60, interval=0.5, message="every exception to resolve")
    assert set(outage.model.objects.filter(direction="out").values_list("status", flat=True)) == {
        "completed"
    }
    postings = SandboxPosting.objects.all()
    assert postings.count() == COUNT
    assert set(postings.values_list("idempotency_key", flat=True)) == set(
        Transaction.objects.filter(direction="out").values_list("idempotency_key", flat=True)
    )
    assert set(postings.values_list("replays", flat=True)) == {0}
    resolved = BusinessException.objects.filter(code="RETRIES_EXHAUSTED", status="resolved")
    assert resolved.count() == COUNT
    assert ReplayJob.objects.get(pk=job.pk).items.filter(outcome="replayed").count() == COUNT
