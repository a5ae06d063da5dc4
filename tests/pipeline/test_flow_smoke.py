"""A document travels from an HTTP webhook through a real worker to the sandbox target."""

import json

import httpx

from apps.connectors.signing import sign
from apps.pipeline.choices import DirectionChoices, TransactionStatusChoices
from apps.pipeline.models import Transaction
from apps.sandbox.models import SandboxPosting
from tests.conftest import WEBHOOK_SECRET, make_rest_target, make_webhook, wait_until


def test_webhook_document_is_delivered_once_by_a_real_worker(
    live_server, sandbox, sandbox_url, start_worker
):
    target = make_rest_target(f"{sandbox_url}/targets/erp/documents")
    make_webhook(target)
    worker = start_worker()
    body = json.dumps({"id": "REQ-1", "po_number": "PO-77", "patient": "Jane Roe"}).encode()

    response = httpx.post(
        f"{live_server.url}/in/webhooks/procurement",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-HubConsole-Signature": sign(WEBHOOK_SECRET, body),
        },
    )

    assert response.status_code == 202
    wait_until(
        lambda: Transaction.objects.filter(
            direction=DirectionChoices.OUTBOUND, status=TransactionStatusChoices.COMPLETED
        ).exists(),
        timeout=30,
        message="the delivery",
    )
    posting = SandboxPosting.objects.get()
    assert posting.body["document_id"] == "REQ-1"
    assert posting.idempotency_key == f"out:{target.pk}:generic.document:REQ-1:1"
    log = worker.log()
    assert "pipeline.process_pending" in log
    assert "pipeline.deliver_pending" in log
    assert "Jane Roe" not in log
    assert "PO-77" not in log
    assert "[task-" in log  # worker log lines carry the task id
