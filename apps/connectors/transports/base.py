"""What every outbound transport takes and returns, and how it reports failure."""

from dataclasses import dataclass

from apps.core.errors import HubError


class TransportError(HubError):
    """A failed send. ``transient`` decides between retry with backoff and an exception now."""


@dataclass(frozen=True)
class OutboundRequest:
    body: bytes
    idempotency_key: str
    correlation_id: str
    document_type: str
    content_type: str = "application/json"
    document_id: str = ""
    format: str = "json"


@dataclass(frozen=True)
class DeliveryResult:
    status: int
    reference: str
    duration_ms: float
    replayed: bool = False


class Transport:
    @classmethod
    def for_connector(cls, connector) -> "Transport":
        raise NotImplementedError

    def send(self, request: OutboundRequest, *, timeout: float | None = None) -> DeliveryResult:
        """Send one request; ``timeout`` (seconds) overrides the connector's when shorter."""
        raise NotImplementedError
