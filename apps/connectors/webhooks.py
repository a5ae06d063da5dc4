"""Inbound HTTPS webhooks: authenticate, validate, store durably, then answer 2xx.

Connector settings: ``secret_env`` (required: environment variable holding the HMAC secret),
``previous_secret_env`` (optional, accepted during rotation), ``event_id_field`` (dotted path
of the sender's event id in the signed JSON body, default ``event_id``). Without an event id,
the body's SHA-256 is the natural key.
"""

import json
import re
from dataclasses import dataclass

from django.conf import settings

from apps.connectors import signing
from apps.connectors.choices import ConnectorKindChoices
from apps.connectors.secrets import connector_secret
from apps.connectors.selectors import connector_get_inbound
from apps.core.errors import HubError, InputRejected
from apps.exceptions.catalogue import codes
from apps.pipeline.processors import json_document, json_path
from apps.pipeline.services import InboundMessage, Received, content_hash, transaction_receive

_SAFE_TOKEN = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
_SAFE_CORRELATION = re.compile(r"[A-Za-z0-9._:@/+=-]{1,64}")


@dataclass(frozen=True)
class WebhookRequest:
    slug: str
    body: bytes
    content_type: str
    signature: str | None
    correlation_id: str | None
    remote_addr: str


def _secrets(connector) -> list[str]:
    secrets = []
    for setting in ("secret_env", "previous_secret_env"):
        try:
            value = connector_secret(connector.settings.get(setting))
        except HubError:
            value = None  # a misconfigured name is a missing secret to the sender
        if value:
            secrets.append(value)
    if not secrets:
        raise InputRejected(
            "connector_not_configured",
            "This connector has no signing secret configured; ask the integration team.",
            status=503,
        )
    return secrets


def webhook_receive(*, request: WebhookRequest) -> Received:
    """Check a webhook call and store it. Raises InputRejected (nothing stored) on bad input."""
    connector = connector_get_inbound(slug=request.slug)
    if connector is None or connector.kind != ConnectorKindChoices.WEBHOOK_IN:
        raise InputRejected(
            "connector_unknown", f"No webhook connector {request.slug!r}.", status=404
        )
    if not connector.enabled:
        raise InputRejected("connector_disabled", "This connector is disabled.", status=403)
    if len(request.body) > settings.HUBCONSOLE["WEBHOOK_MAX_BYTES"]:
        raise InputRejected("payload_too_large", "The body is larger than allowed.", status=413)
    try:
        signing.verify(
            request.signature,
            request.body,
            _secrets(connector),
            tolerance=settings.HUBCONSOLE["WEBHOOK_TOLERANCE_SECONDS"],
        )
    except signing.SignatureError as error:
        raise InputRejected(error.code, error.message, status=401) from None
    if request.content_type.split(";")[0].strip().lower() != "application/json":
        raise InputRejected(
            "unsupported_media_type", "Send the body as application/json.", status=415
        )
    try:
        document = json_document(request.body)
    except HubError as error:
        code = "malformed_json" if error.code == codes.PARSE_ERROR else "invalid_document"
        raise InputRejected(code, error.message) from None

    # The event id comes from the signed body, never from a header the signature does not
    # cover: otherwise a captured request could be replayed under new ids.
    found = json_path(document, connector.settings.get("event_id_field", "event_id"))
    event_id = (
        str(found) if found not in (None, "") and not isinstance(found, dict | list) else None
    )
    if event_id is not None and not _SAFE_TOKEN.fullmatch(event_id):
        raise InputRejected("event_id_invalid", "The event id has unsupported characters.")
    natural_key = f"event:{event_id}" if event_id else f"sha256:{content_hash(request.body)}"
    correlation_id = request.correlation_id or None
    if correlation_id is not None and not _SAFE_CORRELATION.fullmatch(correlation_id):
        raise InputRejected(
            "correlation_id_invalid",
            "The correlation id must be 1 to 64 letters, digits or ._:@/+=- characters.",
        )

    return transaction_receive(
        message=InboundMessage(
            connector_id=connector.pk,
            format=connector.format,
            document_type=connector.document_type,
            raw=request.body,
            idempotency_key=f"in:{connector.pk}:{natural_key}",
            correlation_id=correlation_id or "",
            metadata={
                "channel": "webhook",
                "event_id": event_id,
                "remote_addr": request.remote_addr,
            },
        )
    )


def webhook_response_body(received: Received) -> str:
    return json.dumps(
        {
            "status": received.outcome,
            "transaction_id": received.transaction_id,
            "correlation_id": received.correlation_id,
        }
    )
