"""X12 856 advance ship notice → canonical ShipNotice, following the HL hierarchy.

Levels: S shipment (TD5 carrier, REF BM/CN tracking, DTM 011 ship / 017 expected), O order
(PRF01 PO number), P pack and T tare (carried through), I item (LIN ids with LT lot, SN
serial and PL PO line; SN1 quantity and unit; REF*LT lot; DTM*036 expiry; PID text). An item
takes its PO number from the nearest level above it (or itself) that has a PRF.
"""

from __future__ import annotations

from dataclasses import dataclass

from apps.p2p.canonical import Line, Party, ShipNotice

from ..errors import ELEMENT_INVALID_CODE
from ..interchange import TransactionSet
from ..segments import Segment
from .common_segments import (
    SELLER_CODES,
    add_to_party,
    body,
    dated,
    description,
    envelope,
    heading,
    item_ids,
    party,
    reference,
)
from .elements import date, decimal, invalid, missing_segment, required, text

SHIP_DATE, EXPECTED_DATE, EXPIRY_DATE = "011", "017", "036"
TRACKING_QUALIFIERS = ("CN", "BM")  # carrier's reference (PRO) first, then bill of lading
LOT, SERIAL, PO_LINE = "LT", "SN", "PL"
ITEM_LEVEL = "I"


@dataclass
class _Level:
    """One HL level: its code (S, O, P, T, I), parent and the PO number a PRF gave it."""

    code: str
    parent: _Level | None
    po_number: str = ""

    def order_number(self) -> str:
        level: _Level | None = self
        while level is not None:
            if level.po_number:
                return level.po_number
            level = level.parent
        return ""


@dataclass
class _Item:
    """An item level being read; becomes a line when its HL ends."""

    hl: Segment
    level: _Level
    lin: Segment | None = None
    sn1: Segment | None = None
    description: str = ""
    lot: str = ""
    expiry_segment: Segment | None = None

    def add(self, segment: Segment) -> None:
        kind = segment.id
        if kind == "LIN" and self.lin is None:
            self.lin = segment
        elif kind == "SN1" and self.sn1 is None:
            self.sn1 = segment
        elif kind == "PID":
            self.description = description(self.description, segment)
        elif kind == "REF" and text(segment, 1) == LOT:
            self.lot = required(segment, 2, "lot number")
        elif kind == "DTM" and text(segment, 1) == EXPIRY_DATE:
            self.expiry_segment = segment
        elif kind == "PRF":
            self.level.po_number = required(segment, 1, "purchase order number")

    def line(self, ordinal: int) -> Line:
        if self.sn1 is None:
            raise missing_segment("SN1", "SN1 (item detail, shipment)", self.hl.position + 1)
        quantity = decimal(self.sn1, 2, "number of units shipped", mandatory=True)
        assert quantity is not None
        unit = required(self.sn1, 3, "unit of measure")
        line = Line(line_number="", quantity=quantity, unit=unit)
        if self.lin is not None:
            line.item, extra = item_ids(self.lin, 2, frozenset({LOT, SERIAL, PO_LINE}))
            line.lot = extra.get(LOT, "")
            line.serial = extra.get(SERIAL, "")
            line.po_line_number = extra.get(PO_LINE, "")
            line.line_number = text(self.lin, 1)
        line.line_number = line.line_number or text(self.sn1, 1) or str(ordinal)
        line.lot = self.lot or line.lot
        line.description = self.description
        line.po_number = self.level.order_number()
        if self.expiry_segment is not None:
            line.expiry = date(self.expiry_segment, 2, "expiration date", mandatory=True)
        return line


def ship_notice_from_856(tx: TransactionSet) -> ShipNotice:
    bsn = heading(tx, "BSN", "BSN (beginning of ship notice)")
    required(bsn, 1, "transaction set purpose")
    notice = ShipNotice(shipment_id=required(bsn, 2, "shipment id"), envelope=envelope(tx))
    date(bsn, 3, "ship notice date", mandatory=True)
    levels: dict[str, _Level] = {}
    level: _Level | None = None
    item: _Item | None = None
    current_party: Party | None = None
    for segment in body(tx):
        kind = segment.id
        if kind == "HL":
            if item is not None:
                notice.lines.append(item.line(len(notice.lines) + 1))
            level, current_party = _open_level(segment, levels), None
            item = _Item(segment, level) if level.code == ITEM_LEVEL else None
        elif item is not None:
            item.add(segment)
        elif kind == "N1":
            current_party = party(segment, SELLER_CODES)
            notice.parties.append(current_party)
        elif kind in ("N2", "N3", "N4") and current_party is not None:
            add_to_party(current_party, segment)
        else:
            _shipment_detail(notice, level, segment)
    if item is not None:
        notice.lines.append(item.line(len(notice.lines) + 1))
    ordered = (each.po_number for each in levels.values() if each.po_number)
    notice.po_numbers = list(dict.fromkeys(ordered))
    return notice


def _open_level(hl: Segment, levels: dict[str, _Level]) -> _Level:
    number = required(hl, 1, "hierarchical id")
    parent_number = text(hl, 2)
    if number in levels:
        raise invalid(hl, 1, f"hierarchical id {number!r} is used twice", ELEMENT_INVALID_CODE)
    if parent_number and parent_number not in levels:
        raise invalid(
            hl,
            2,
            f"parent hierarchical id {parent_number!r} is not an earlier HL",
            ELEMENT_INVALID_CODE,
        )
    level = _Level(required(hl, 3, "hierarchical level code"), levels.get(parent_number))
    levels[number] = level
    return level


def _shipment_detail(notice: ShipNotice, level: _Level | None, segment: Segment) -> None:
    """Header, shipment, order and pack level segments."""
    kind = segment.id
    if kind == "DTM":
        qualifier, value = dated(segment)
        if qualifier == SHIP_DATE:
            notice.ship_date = value
        elif qualifier == EXPECTED_DATE:
            notice.expected_date = value
    elif kind == "TD5" and not notice.carrier:
        notice.carrier = text(segment, 3) or text(segment, 5)
    elif kind == "REF":
        found = reference(segment)
        notice.references.append(found)
        if found.qualifier in TRACKING_QUALIFIERS and found.value:
            current = notice.tracking_number
            # The carrier's reference wins over a bill of lading number.
            if not current or found.qualifier == TRACKING_QUALIFIERS[0]:
                notice.tracking_number = found.value
    elif kind == "PRF" and level is not None:
        level.po_number = required(segment, 1, "purchase order number")
