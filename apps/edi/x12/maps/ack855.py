"""X12 855 purchase order acknowledgment → canonical POAcknowledgment.

BAK02 says whether the supplier accepts or rejects the order; ACK segments in each PO1 loop
give the line status and, when the supplier changed it, the quantity and unit. A changed price
arrives in PO104 (or CTP) of the acknowledged line, which is read as the line's price.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from apps.p2p.canonical import Line, Party, POAcknowledgment

from ..interchange import TransactionSet
from ..segments import Segment
from .common_segments import (
    SELLER_CODES,
    add_to_party,
    body,
    check_line_count,
    description,
    envelope,
    heading,
    item_ids,
    party,
    reference,
)
from .elements import code, date, decimal, required, text

ACCEPTED, CHANGED, REJECTED, BACKORDERED = "accepted", "changed", "rejected", "backordered"

# BAK02 acknowledgment types. Accepting types become "changed" when any line is not
# accepted as ordered.
ACK_TYPES = {
    "AC": ACCEPTED,  # with detail and change
    "AD": ACCEPTED,  # with detail, no change
    "AE": ACCEPTED,  # with exception detail only
    "AK": ACCEPTED,  # no detail or change
    "AP": ACCEPTED,  # product replenishment
    "AT": ACCEPTED,  # accepted
    "RD": REJECTED,  # reject with detail
    "RF": REJECTED,  # reject with exception detail only
    "RJ": REJECTED,  # rejected, no detail
    "RO": REJECTED,  # rejected with counter offer
}

# ACK01 line item status codes.
LINE_STATUSES = {
    "IA": ACCEPTED,
    "AC": ACCEPTED,  # accepted and shipped
    "AR": ACCEPTED,  # accepted and released for shipment
    "IC": CHANGED,
    "IP": CHANGED,  # price changed
    "IQ": CHANGED,  # quantity changed
    "DR": CHANGED,  # date rescheduled
    "IS": CHANGED,  # substitution made
    "IE": CHANGED,  # price pending
    "SP": CHANGED,  # schedule date pending
    # Held lines are not accepted as ordered: a buyer has to look, as for a change.
    "IF": CHANGED,
    "IH": CHANGED,
    "IW": CHANGED,
    "IB": BACKORDERED,
    "BP": BACKORDERED,  # partial shipment, balance backordered
    "IR": REJECTED,
    "ID": REJECTED,  # deleted
    **{f"R{n}": REJECTED for n in range(1, 9)},
}


def po_acknowledgment_from_855(tx: TransactionSet) -> POAcknowledgment:
    bak = heading(tx, "BAK", "BAK (beginning of acknowledgment)")
    required(bak, 1, "transaction set purpose")
    date(bak, 4, "purchase order date", mandatory=True)
    header_status = code(bak, 2, "acknowledgment type", ACK_TYPES)
    ack = POAcknowledgment(
        po_number=required(bak, 3, "purchase order number"),
        status=header_status,
        ack_type=text(bak, 2),
        ack_number=text(bak, 8),
        ack_date=date(bak, 9, "acknowledgment date"),
        envelope=envelope(tx),
    )
    pending: _PendingLine | None = None
    current_party: Party | None = None
    ctt: Segment | None = None
    for segment in body(tx):
        kind = segment.id
        if kind in ("PO1", "CTT") and pending is not None:
            ack.lines.append(pending.finish(header_status, len(ack.lines) + 1))
            pending = None
        if kind == "PO1":
            pending, current_party = _PendingLine(segment), None
        elif kind == "CTT":
            ctt = segment
        elif pending is not None:
            pending.add(segment)
        elif kind == "N1":
            current_party = party(segment, SELLER_CODES)
            ack.parties.append(current_party)
        elif kind in ("N2", "N3", "N4") and current_party is not None:
            add_to_party(current_party, segment)
        elif kind == "REF":
            ack.references.append(reference(segment))
    if pending is not None:
        ack.lines.append(pending.finish(header_status, len(ack.lines) + 1))
    check_line_count(ctt, len(ack.lines))
    if header_status == ACCEPTED and any(each.status != ACCEPTED for each in ack.lines):
        ack.status = CHANGED
    return ack


@dataclass
class _PendingLine:
    """A PO1 loop being read: the line is built once all its ACKs are known."""

    po1: Segment
    acks: list[Segment] = field(default_factory=list)
    description: str = ""
    ctp_price: Decimal | None = None

    def add(self, segment: Segment) -> None:
        if segment.id == "ACK":
            self.acks.append(segment)
        elif segment.id == "PID":
            self.description = description(self.description, segment)
        elif segment.id == "CTP" and self.ctp_price is None:
            self.ctp_price = decimal(segment, 3, "unit price")

    def finish(self, header_status: str, ordinal: int) -> Line:
        """The line, its status, quantity and unit taken from its ACK segments.

        The first ACK gives status, quantity and unit; when later ACKs split the line with
        another status (5 shipped, 5 backordered) the line as a whole is ``changed``.
        """
        po1 = self.po1
        quantity = decimal(po1, 2, "quantity ordered")
        unit = text(po1, 3)
        if self.acks:
            statuses = [code(each, 1, "line item status", LINE_STATUSES) for each in self.acks]
            status = statuses[0] if len(set(statuses)) == 1 else CHANGED
            acknowledged = decimal(self.acks[0], 2, "acknowledged quantity")
            if acknowledged is not None:
                quantity, unit = acknowledged, text(self.acks[0], 3) or unit
        else:
            # Without ACK the line follows the header: accepted or rejected as a whole.
            status = ACCEPTED if header_status == ACCEPTED else REJECTED
        if quantity is None:
            required(po1, 2, "quantity (PO102, or ACK02 in the line's ACK)", conditional=True)
        if not unit:
            required(po1, 3, "unit of measure", conditional=True)
        assert quantity is not None
        price = decimal(po1, 4, "unit price")
        ids, _ = item_ids(po1, 6)
        return Line(
            line_number=text(po1, 1) or str(ordinal),
            quantity=quantity,
            unit=unit,
            item=ids,
            unit_price=price if price is not None else self.ctp_price,
            description=self.description,
            status=status,
        )
