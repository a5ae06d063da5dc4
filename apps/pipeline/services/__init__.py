"""Pipeline services: receive, claim, process, deliver, sweep and replay."""

from apps.pipeline.services.drain import work_drain
from apps.pipeline.services.edit import transaction_edit_and_replay
from apps.pipeline.services.receive import (
    InboundMessage,
    Received,
    content_hash,
    new_correlation_id,
    transaction_receive,
)
from apps.pipeline.services.reject import exception_reject
from apps.pipeline.services.replay import exception_replay, transaction_replay
from apps.pipeline.services.work import work_claim, work_ready_counts, work_sweep

__all__ = [
    "InboundMessage",
    "Received",
    "content_hash",
    "exception_reject",
    "exception_replay",
    "new_correlation_id",
    "transaction_edit_and_replay",
    "transaction_receive",
    "transaction_replay",
    "work_claim",
    "work_drain",
    "work_ready_counts",
    "work_sweep",
]
