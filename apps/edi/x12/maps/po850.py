"""X12 850 purchase order ↔ canonical PurchaseOrder, both directions.

The 850 carries: number, date, purpose, type (BEG), currency (CUR), references (REF), header
allowances/charges (SAC), terms (ITD), dates (DTM), parties (N1/N2/N3/N4), lines (PO1 with
PID, CTP, SAC, AMT*1) and the total (AMT*TT). ``legal_entity``, ``facility``,
``cost_center`` and ``requisition_number`` have no 850 home and stay empty.
"""

from __future__ import annotations

import datetime

from apps.p2p.canonical import AllowanceCharge, Line, Party, PurchaseOrder

from ..interchange import TransactionSet
from ..segments import Segment, Separators
from ..writer import Element, OutboundEnvelope, OutSegment, implied, number, write_interchange
from ..writer import transaction_set as wrap_set
from .common_segments import (
    BUYER_CODES,
    ROLE_CODES,
    add_to_party,
    allowance_charge,
    body,
    check_line_count,
    dated,
    description,
    envelope,
    heading,
    item_ids,
    party,
    reference,
    terms,
)
from .elements import code, date, decimal, required, text

PURPOSES = {"00": "original", "01": "cancel", "04": "change", "05": "replace"}
PURPOSE_CODES = {meaning: code for code, meaning in PURPOSES.items()}
# BEG02 is mandatory; a PO without a type is a stand-alone order.
DEFAULT_ORDER_TYPE = "SA"
_MAX_ID_PAIRS = 10  # PO106..PO125


def purchase_order_from_850(tx: TransactionSet) -> PurchaseOrder:
    beg = heading(tx, "BEG", "BEG (beginning of purchase order)")
    po = PurchaseOrder(
        po_number=required(beg, 3, "purchase order number"),
        po_date=date(beg, 5, "purchase order date", mandatory=True),
        purpose=code(beg, 1, "transaction set purpose", PURPOSES),
        order_type=required(beg, 2, "purchase order type"),
        envelope=envelope(tx),
    )
    line: Line | None = None
    current_party: Party | None = None
    ctt: Segment | None = None
    for segment in body(tx):
        kind = segment.id
        if kind == "PO1":
            line = _line(segment, len(po.lines) + 1)
            po.lines.append(line)
            current_party = None
        elif kind == "CTT":
            ctt, line = segment, None
        elif line is not None:
            _line_detail(line, segment)
        elif kind == "N1":
            current_party = party(segment, BUYER_CODES)
            po.parties.append(current_party)
        elif kind in ("N2", "N3", "N4") and current_party is not None:
            add_to_party(current_party, segment)
        elif kind == "REF":
            po.references.append(reference(segment))
        elif kind == "DTM":
            qualifier, value = dated(segment)
            po.dates[qualifier] = value
        elif kind == "CUR":
            po.currency = required(segment, 2, "currency code")
        elif kind == "ITD":
            po.terms = terms(segment)
        elif kind == "SAC":
            _add_allowance(po.allowances_charges, segment)
        elif kind == "AMT" and text(segment, 1) == "TT":
            po.total_amount = decimal(segment, 2, "total amount", mandatory=True)
    check_line_count(ctt, len(po.lines))
    return po


def _line(po1: Segment, ordinal: int) -> Line:
    quantity = decimal(po1, 2, "quantity", mandatory=True)
    assert quantity is not None
    ids, _ = item_ids(po1, 6)
    return Line(
        # PO101 is optional; lines still need a stable number to be matched on.
        line_number=text(po1, 1) or str(ordinal),
        quantity=quantity,
        unit=required(po1, 3, "unit of measure", conditional=True),
        unit_price=decimal(po1, 4, "unit price"),
        item=ids,
    )


def _line_detail(line: Line, segment: Segment) -> None:
    kind = segment.id
    if kind == "PID":
        line.description = description(line.description, segment)
    elif kind == "CTP" and line.unit_price is None:
        # PO104 is the price; CTP only fills in when a partner puts the price there instead.
        line.unit_price = decimal(segment, 3, "unit price")
    elif kind == "SAC":
        _add_allowance(line.allowances_charges, segment)
    elif kind == "AMT" and text(segment, 1) == "1":
        line.amount = decimal(segment, 2, "line amount", mandatory=True)


def _add_allowance(target: list[AllowanceCharge], segment: Segment) -> None:
    found = allowance_charge(segment)
    if found is not None:
        target.append(found)


# --- writing ---------------------------------------------------------------------------------


def purchase_order_to_850(
    po: PurchaseOrder,
    *,
    sender_id: str,
    receiver_id: str,
    interchange_control: str,
    group_control: str,
    set_control: str = "0001",
    sender_qualifier: str = "ZZ",
    receiver_qualifier: str = "ZZ",
    version: str = "004010",
    usage: str = "P",
    now: datetime.datetime | None = None,
    separators: Separators | None = None,
    line_break: str = "\n",
) -> str:
    """A full interchange (ISA/GS/ST..SE/GE/IEA) carrying ``po`` as an 850.

    Raises ``ValueError`` when a value contains one of the separators or does not fit X12.
    """
    outbound = OutboundEnvelope(
        sender_id=sender_id,
        receiver_id=receiver_id,
        interchange_control=interchange_control,
        group_control=group_control,
        functional_id="PO",
        version=version,
        sender_qualifier=sender_qualifier,
        receiver_qualifier=receiver_qualifier,
        usage=usage,
        **({"now": now} if now else {}),
    )
    po_date = po.po_date or outbound.now.date()
    segments = _header_segments(po, po_date)
    for line in po.lines:
        segments.extend(_line_segments(line))
    segments.append(["CTT", str(len(po.lines))])
    if po.total_amount is not None:
        segments.append(["AMT", "TT", number(po.total_amount)])
    tx = wrap_set("850", set_control, segments)
    return write_interchange(outbound, [tx], separators, line_break=line_break)


def _header_segments(po: PurchaseOrder, po_date: datetime.date) -> list[OutSegment]:
    if po.purpose not in PURPOSE_CODES:
        raise ValueError(f"purpose {po.purpose!r} is not one of {sorted(PURPOSE_CODES)}")
    segments: list[OutSegment] = [
        [
            "BEG",
            PURPOSE_CODES[po.purpose],
            po.order_type or DEFAULT_ORDER_TYPE,
            po.po_number,
            "",
            _date(po_date),
        ],
        ["CUR", "BY", po.currency],
    ]
    segments.extend(["REF", r.qualifier, r.value, r.description] for r in po.references)
    segments.extend(_sac(ac) for ac in po.allowances_charges)
    if po.terms:
        segments.append(["ITD", "ZZ", *[""] * 10, po.terms])
    segments.extend(["DTM", qualifier, _date(value)] for qualifier, value in po.dates.items())
    for each in po.parties:
        segments.extend(_party_segments(each))
    return segments


def _party_segments(each: Party) -> list[OutSegment]:
    entity = ROLE_CODES.get(each.role, each.role)
    if not (entity.isalnum() and entity.isupper() and 2 <= len(entity) <= 3):
        raise ValueError(f"party role {each.role!r} has no N101 code")
    qualifier, id_code = each.id_qualifier, each.id_code
    if each.code and not id_code:
        qualifier, id_code = "92", each.code
    segments: list[OutSegment] = [["N1", entity, each.name, qualifier, id_code]]
    lines = each.address
    segments.extend(["N3", *lines[i : i + 2]] for i in range(0, len(lines), 2))
    place = [each.city, each.state, each.postal_code, each.country]
    if any(place):
        segments.append(["N4", *place])
    return segments


def _line_segments(line: Line) -> list[OutSegment]:
    pairs: list[tuple[str, str]] = [
        (qualifier, value)
        for qualifier, value in (
            ("VP", line.item.vendor_part),
            ("BP", line.item.buyer_part),
            ("UK", line.item.gtin),
            *line.item.others.items(),
        )
        if value
    ]
    if len(pairs) > _MAX_ID_PAIRS:
        raise ValueError(f"line {line.line_number}: more than {_MAX_ID_PAIRS} item ids")
    price = "" if line.unit_price is None else number(line.unit_price)
    po1: list[Element] = ["PO1", line.line_number, number(line.quantity), line.unit, price, ""]
    for pair in pairs:
        po1.extend(pair)
    segments: list[OutSegment] = [po1]
    if line.description:
        segments.append(["PID", "F", "", "", "", line.description])
    segments.extend(_sac(ac) for ac in line.allowances_charges)
    if line.amount is not None:
        segments.append(["AMT", "1", number(line.amount)])
    return segments


def _sac(ac: AllowanceCharge) -> OutSegment:
    return ["SAC", ac.indicator, ac.code, "", "", implied(ac.amount), *[""] * 9, ac.description]


def _date(value: datetime.date) -> str:
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"
