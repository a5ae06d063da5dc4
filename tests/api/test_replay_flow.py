"""Replay through the API end to end, against the sandbox ERP: the posting whose answer was lost
is replayed with the same idempotency key, and the target still holds exactly one posting."""

from apps.pipeline.choices import TransactionStatusChoices as Status
from apps.pipeline.choices import WorkStageChoices as Stage
from apps.pipeline.models import Transaction, WorkItem
from apps.pipeline.services import work_drain
from apps.sandbox.models import SandboxPosting
from tests.api.conftest import API
from tests.conftest import make_rest_target, make_webhook
from tests.pipeline.builders import receive_json


def test_replay_through_the_api_never_posts_twice(sandbox, sandbox_url, token_client, engineer):
    target = make_rest_target(f"{sandbox_url}/targets/erp/documents", max_attempts=1)
    source = make_webhook(target)
    sandbox.post("/faults", json={"target": "erp", "mode": "lose_answer", "count": 1})
    receive_json(source, {"id": "A"})
    work_drain(stage=Stage.PROCESS)
    work_drain(stage=Stage.DELIVER)
    tx = Transaction.objects.get(direction="out", document_id="A")
    assert tx.status == Status.EXCEPTION
    assert SandboxPosting.objects.count() == 1  # it arrived; only the answer was lost
    key = tx.idempotency_key

    response = token_client(engineer, "read", "replay").post(f"{API}/transactions/{tx.pk}/replay/")

    assert response.status_code == 202
    assert WorkItem.objects.get(transaction=tx).stage == Stage.DELIVER
    work_drain(stage=Stage.DELIVER)
    tx.refresh_from_db()
    assert tx.status == Status.COMPLETED
    assert tx.idempotency_key == key
    posting = SandboxPosting.objects.get()  # still exactly one
    assert posting.idempotency_key == key
    assert posting.replays == 1
    assert Transaction.objects.filter(direction="out").count() == 1
