"""Processors turn a received message into a canonical document and the deliveries it causes.

A processor is registered per document type. Flows (procure-to-pay, usage-to-charge, ...) add
their own; this module holds the registry and the generic JSON document processor, which
forwards documents to the connector's ``forward_to`` target.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apps.core.errors import HubError
from apps.exceptions.catalogue import codes

GENERIC_DOCUMENT = "generic.document"
CONTENT_TYPES = {
    "json": "application/json",
    "x12": "application/edi-x12",
    "hl7v2": "application/hl7-v2",
    "csv": "text/csv",
}


@dataclass(frozen=True)
class InboundView:
    """What a processor sees of a received transaction and its connector."""

    transaction_id: int
    connector_id: int
    connector_settings: dict
    forward_to_id: int | None
    format: str
    document_type: str
    raw: bytes
    correlation_id: str
    connector_slug: str = ""


@dataclass(frozen=True)
class Delivery:
    """An outbound posting to create. Its idempotency key is unique per (target, document,
    revision) so every replay of the same document revision posts at most once."""

    connector_id: int
    document_type: str
    document_id: str
    revision: int
    body: bytes
    format: str = "json"

    @property
    def idempotency_key(self) -> str:
        return f"out:{self.connector_id}:{self.document_type}:{self.document_id}:{self.revision}"


@dataclass(frozen=True)
class Child:
    """A message split out of a batch (an X12 transaction set, one receipt of a CSV file).

    It becomes an inbound transaction of its own, a child of the batch (lineage), processed
    like any other. ``idempotency_key`` is its natural key (for X12: sender, receiver, ISA13,
    GS06 and ST02), so a batch sent again does not process its documents twice.
    """

    document_type: str
    format: str
    body: bytes
    idempotency_key: str
    document_id: str = ""
    metadata: dict = field(default_factory=dict)
    # What decides whether a child sent again is the same: by default its body; an X12 set
    # resent in a new interchange keeps its control numbers and text but not the ISA date.
    fingerprint: bytes = b""


@dataclass(frozen=True)
class Applied:
    """What a flow's business step did to its documents, inside the pipeline's commit.

    ``error`` is a business outcome recorded after the document writes are kept (a price
    variance leaves the invoice stored and the transaction in the exception queue); ``waiting``
    parks the transaction until something wakes it (an invoice waiting for its receipt);
    ``wake`` names parked or failed transactions to run again now (the receipt they waited
    for has arrived).
    """

    deliveries: list[Delivery] = field(default_factory=list)
    keys: list[tuple[str, str]] = field(default_factory=list)
    error: HubError | None = None
    waiting: str = ""
    wake: list[int] = field(default_factory=list)
    message: str = ""


@dataclass(frozen=True)
class Processed:
    """A processor's answer. ``apply`` runs inside the commit that finishes the transaction
    (in a savepoint of its own), so business documents change exactly when the transaction
    completes; it may lock the documents it changes."""

    canonical: dict
    document_id: str = ""
    revision: int = 1
    keys: list[tuple[str, str]] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    children: list[Child] = field(default_factory=list)
    apply: Callable[[], Applied] | None = None


Processor = Callable[[InboundView], Processed]
_PROCESSORS: dict[str, Processor] = {}


@dataclass(frozen=True)
class DeliveredView:
    """An outbound posting the target accepted, as an after-delivery handler sees it."""

    transaction_id: int
    connector_id: int
    document_type: str
    document_id: str
    revision: int
    reference: str
    correlation_id: str


# Returns (parent transaction id, delivery) pairs: what each accepted posting sends next.
AfterDelivery = Callable[[list[DeliveredView]], list[tuple[int, Delivery]]]
_AFTER_DELIVERY: dict[str, AfterDelivery] = {}


def register_after_delivery(document_type: str) -> Callable[[AfterDelivery], AfterDelivery]:
    """Register what happens once a target accepted postings of ``document_type`` (the PO is
    in the ERP, so the order goes to the supplier). Runs in the commit that records delivery;
    the deliveries it returns are queued with the delivered posting as their parent."""

    def decorator(function: AfterDelivery) -> AfterDelivery:
        _AFTER_DELIVERY[document_type] = function
        return function

    return decorator


def after_delivery_for(document_type: str) -> AfterDelivery | None:
    return _AFTER_DELIVERY.get(document_type)


# Called with the ids of transactions a person rejected, inside their commit: a flow marks its
# business documents accordingly (a rejected invoice is never matched or paid).
OnReject = Callable[[list[int]], None]
_ON_REJECT: dict[str, OnReject] = {}


def register_on_reject(document_type: str) -> Callable[[OnReject], OnReject]:
    def decorator(function: OnReject) -> OnReject:
        _ON_REJECT[document_type] = function
        return function

    return decorator


def on_reject_for(document_type: str) -> OnReject | None:
    return _ON_REJECT.get(document_type)


def register(document_type: str) -> Callable[[Processor], Processor]:
    def decorator(function: Processor) -> Processor:
        _PROCESSORS[document_type] = function
        return function

    return decorator


def processor_for(document_type: str) -> Processor:
    try:
        return _PROCESSORS[document_type]
    except KeyError:
        raise HubError(
            codes.VALUE_MAPPING_MISSING,
            f"No processor is registered for document type {document_type!r}.",
        ) from None


def json_path(document: Any, dotted: str) -> Any:
    """The value at a dotted path (``supplier.code``) in nested objects, or None."""
    value = document
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def json_document(raw: bytes) -> dict:
    """Decode a JSON object (UTF-8, -16 or -32, with or without a byte-order mark)."""
    try:
        if raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise HubError(codes.PARSE_ERROR, f"Not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise HubError(codes.SCHEMA_INVALID, "The JSON document must be an object.")
    return document


@register(GENERIC_DOCUMENT)
def generic_document(message: InboundView) -> Processed:
    """A JSON object with an id (and optional revision), forwarded as a canonical envelope.

    Connector settings: ``document_id_field`` (default ``id``), ``revision_field`` (default
    ``revision``) and ``key_fields`` ({key kind: dotted path}) naming business keys to index.
    """
    options = message.connector_settings
    document = json_document(message.raw)
    id_field = options.get("document_id_field", "id")
    document_id = json_path(document, id_field)
    if document_id is None or str(document_id).strip() == "":
        raise HubError(codes.SCHEMA_INVALID, f"The document has no {id_field!r} field.")
    document_id = str(document_id).strip()
    if len(document_id) > 120:
        raise HubError(codes.SCHEMA_INVALID, f"{id_field!r} is longer than 120 characters.")
    revision = json_path(document, options.get("revision_field", "revision"))
    if revision is None:
        revision = 1
    if isinstance(revision, bool) or not isinstance(revision, int) or revision < 1:
        raise HubError(codes.SCHEMA_INVALID, "The revision must be a positive whole number.")

    keys = [("document_id", document_id)]
    for kind, dotted in options.get("key_fields", {}).items():
        value = json_path(document, dotted)
        if value is not None and not isinstance(value, (dict, list)):
            keys.append((kind, str(value)[:200]))

    canonical = {
        "document_type": message.document_type,
        "document_id": document_id,
        "revision": revision,
        "correlation_id": message.correlation_id,
        "data": document,
    }
    deliveries = []
    if message.forward_to_id is not None:
        # The correlation id travels as a header, not in the body: two sends of the same
        # document revision then have the same bytes, and a changed one is told apart.
        posted = {key: value for key, value in canonical.items() if key != "correlation_id"}
        body = json.dumps(posted, separators=(",", ":"), sort_keys=True).encode()
        deliveries.append(
            Delivery(message.forward_to_id, message.document_type, document_id, revision, body)
        )
    return Processed(canonical, document_id, revision, keys, deliveries)
