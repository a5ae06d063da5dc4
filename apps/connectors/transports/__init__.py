"""Transports: one small module per kind of outbound connection, found through a registry."""

from apps.connectors.choices import ConnectorKindChoices
from apps.connectors.transports.base import (
    DeliveryResult,
    OutboundRequest,
    Transport,
    TransportError,
)
from apps.connectors.transports.rest import RestTransport
from apps.connectors.transports.sftp import SftpTransport

TRANSPORTS: dict[str, type[Transport]] = {
    ConnectorKindChoices.REST_OUT: RestTransport,
    ConnectorKindChoices.SFTP_OUT: SftpTransport,
}


def transport_for(connector) -> Transport:
    try:
        transport_class = TRANSPORTS[connector.kind]
    except KeyError:
        raise TransportError(
            "DELIVERY_REJECTED", f"{connector.get_kind_display()} cannot send messages."
        ) from None
    return transport_class.for_connector(connector)


__all__ = ["DeliveryResult", "OutboundRequest", "Transport", "TransportError", "transport_for"]
