"""Builders for pipeline tests: receive messages straight through the receive service."""

import json

from apps.pipeline.services import InboundMessage, transaction_receive


def receive_json(connector, document: dict | None = None, *, key: str | None = None, raw=None):
    raw = raw if raw is not None else json.dumps(document).encode()
    return transaction_receive(
        message=InboundMessage(
            connector_id=connector.pk,
            format=connector.format,
            document_type=connector.document_type,
            raw=raw,
            idempotency_key=f"in:{connector.pk}:{key or (document or {}).get('id', 'x')}",
        )
    )
