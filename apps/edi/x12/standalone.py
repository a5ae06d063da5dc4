"""One transaction set as an interchange of its own, for storing and replaying it alone."""

import datetime

from .interchange import TransactionSet
from .writer import OutboundEnvelope, _isa, write_segments


def standalone(tx: TransactionSet) -> str:
    """The set wrapped in its original ISA and GS (same partners, control numbers, version
    and separators) with GE and IEA counting one: it reads back as exactly that set, so a
    child transaction can be inspected, parsed and replayed without its batch."""
    group = tx.group
    interchange = group.interchange
    separators = interchange.separators
    sent = interchange.sent_at or datetime.datetime(2000, 1, 1)
    envelope = OutboundEnvelope(
        sender_id=interchange.sender_id,
        receiver_id=interchange.receiver_id,
        sender_qualifier=interchange.sender_qualifier,
        receiver_qualifier=interchange.receiver_qualifier,
        interchange_control=interchange.control,
        group_control=group.control,
        functional_id=group.functional_id,
        version=group.version or interchange.version,
        isa_version=interchange.version,
        usage=interchange.usage or "P",
        now=sent,
    )
    isa = _isa(envelope, interchange.version, interchange.control, separators, "\n")
    gs = [
        "GS",
        group.functional_id,
        group.sender,
        group.receiver,
        group.date,
        group.time,
        group.control,
        group.agency or "X",
        group.version,
    ]
    body = tx.raw.strip()
    if not body.endswith(separators.segment):
        body += separators.segment
    if separators.segment not in "\r\n":
        body += "\n"
    trailer = [["GE", "1", group.control], ["IEA", "1", interchange.control]]
    return isa + write_segments([gs], separators) + body + write_segments(trailer, separators)
