"""Trading-partner services: finding a partner, numbering what HubConsole sends it, and the
acknowledgments it is owed for what it sent."""

import datetime
from dataclasses import dataclass

from django.db import connection

from apps.edi.choices import AcknowledgmentChoices
from apps.edi.models import TradingPartner
from apps.edi.x12 import FunctionalGroup, InterchangeHeader, X12Error, ack_997, ack_999, ack_ta1
from apps.pipeline.processors import Delivery

X12_SYSTEM = "X12"
ACK_DOCUMENT = "x12.acknowledgment.out"


def partner_code(qualifier: str, isa_id: str) -> str:
    return f"{qualifier.strip()}:{isa_id.strip()}"


def partner_for(qualifier: str, isa_id: str) -> TradingPartner | None:
    return TradingPartner.objects.filter(
        isa_qualifier=qualifier.strip(), isa_id=isa_id.strip(), enabled=True
    ).first()


@dataclass(frozen=True)
class Controls:
    interchange: str
    group: str


def controls_next(partner: TradingPartner) -> Controls:
    """The next interchange and group control numbers towards ``partner``, taken in the
    caller's commit (the row lock serialises senders; numbers wrap after 999,999,999)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE edi_tradingpartner
            SET last_interchange_control = last_interchange_control %% 999999999 + 1,
                last_group_control = last_group_control %% 999999999 + 1
            WHERE id = %s
            RETURNING last_interchange_control, last_group_control
            """,
            [partner.pk],
        )
        interchange, group = cursor.fetchone()
    return Controls(f"{interchange:09d}", str(group))


def acknowledgments_for(
    partner: TradingPartner | None,
    groups: list[FunctionalGroup],
    *,
    header: InterchangeHeader,
    interchange_ref: str,
) -> list[Delivery]:
    """The 997/999 the partner wants for each functional group it sent (none when it wants
    none or has nowhere to receive them). Runs in the commit that records the interchange."""
    if partner is None or partner.outbound_id is None:
        return []
    now = datetime.datetime.now(tz=datetime.UTC)
    planned: list[tuple[str, object]] = []
    if header.ack_requested == "1":
        planned.append((f"TA1-{interchange_ref}", None))
    if partner.acknowledgment != AcknowledgmentChoices.NONE:
        for group in groups:
            if group.functional_id != "FA":  # acknowledgments are not acknowledged
                planned.append(
                    (f"{partner.acknowledgment}-{interchange_ref}-{group.control}", group)
                )
    sent = _already_sent(partner, [document_id for document_id, _ in planned])
    write = ack_999 if partner.acknowledgment == AcknowledgmentChoices.IA999 else ack_997
    deliveries = []
    for document_id, group in planned:
        if document_id in sent:
            continue  # a replay: the acknowledgment went out the first time
        controls = controls_next(partner)
        if group is None:
            body = ack_ta1(header, interchange_control=controls.interchange, now=now)
        else:
            body = write(
                group,
                interchange_control=controls.interchange,
                group_control=controls.group,
                now=now,
            )
        deliveries.append(_ack(partner, document_id, body))
    return deliveries


def _already_sent(partner: TradingPartner, document_ids: list[str]) -> set[str]:
    from apps.pipeline.models import Transaction

    return set(
        Transaction.objects.filter(
            connector_id=partner.outbound_id,
            document_type=ACK_DOCUMENT,
            document_id__in=[d[:120] for d in document_ids],
        ).values_list("document_id", flat=True)
    )


def rejection_for(
    partner: TradingPartner | None, header: InterchangeHeader, error: X12Error, ref: str
) -> list[Delivery]:
    """A TA1 rejecting an interchange whose envelope is broken."""
    if partner is None or partner.outbound_id is None or _already_sent(partner, [f"TA1-{ref}"]):
        return []
    controls = controls_next(partner)
    now = datetime.datetime.now(tz=datetime.UTC)
    body = ack_ta1(header, interchange_control=controls.interchange, now=now, error=error)
    return [_ack(partner, f"TA1-{ref}", body)]


def _ack(partner: TradingPartner, document_id: str, body: str) -> Delivery:
    return Delivery(
        partner.outbound_id, ACK_DOCUMENT, document_id[:120], 1, body.encode(), format="x12"
    )
