"""Segments every supply-chain map reads the same way: N1 loop, REF, DTM, ITD, SAC/ITA, ids."""

from __future__ import annotations

import datetime

from apps.p2p.canonical import AllowanceCharge, Envelope, ItemIds, Party, Reference

from ..errors import ELEMENT_INVALID_CODE
from ..interchange import TransactionSet
from ..segments import Segment
from .elements import code, date, decimal, invalid, missing_segment, required, text

# N101 entity identifier codes → canonical party roles; other codes are kept as sent.
ROLES = {
    "BY": "buyer",
    "SE": "supplier",
    "SU": "supplier",
    "VN": "supplier",
    "ST": "ship_to",
    "BT": "bill_to",
    "RI": "remit_to",
    "RE": "remit_to",
    "SF": "ship_from",
}
# The code each role is written with in outbound documents.
ROLE_CODES = {
    "buyer": "BY",
    "supplier": "SE",
    "ship_to": "ST",
    "bill_to": "BT",
    "remit_to": "RI",
    "ship_from": "SF",
}
# N103 qualifiers under which N104 is a trading partner's private code rather than a number
# from a registry (DUNS, GLN): 91 assigned by seller, 92 assigned by buyer, ZZ mutually defined.
BUYER_CODES = frozenset({"92", "ZZ"})
SELLER_CODES = frozenset({"91", "ZZ"})

VENDOR_PART = frozenset({"VP", "VN"})
BUYER_PART = frozenset({"BP", "IN"})
GTIN = frozenset({"UK", "EN"})

_INDICATORS = {"A": "A", "C": "C", "N": ""}


def first(segments: list[Segment], segment_id: str) -> Segment | None:
    return next((s for s in segments if s.id == segment_id), None)


def heading(tx: TransactionSet, segment_id: str, what: str) -> Segment:
    """The set's beginning segment (BEG, BAK, BSN, BIG), which must follow ST."""
    found = first(tx.segments, segment_id)
    if found is None:
        raise missing_segment(segment_id, what, 2)
    return found


def body(tx: TransactionSet) -> list[Segment]:
    """The segments between ST and SE."""
    return tx.segments[1:-1]


def envelope(tx: TransactionSet) -> Envelope:
    interchange = tx.group.interchange
    return Envelope(
        sender_id=interchange.sender_id,
        receiver_id=interchange.receiver_id,
        interchange_control=interchange.control,
        group_control=tx.group.control,
        set_control=tx.control,
        version=tx.version,
    )


def party(n1: Segment, own_codes: frozenset[str]) -> Party:
    """A party from N1; ``own_codes`` are the N103 qualifiers of the sender's own codes."""
    entity = required(n1, 1, "entity identifier code")
    qualifier, id_code = text(n1, 3), text(n1, 4)
    return Party(
        role=ROLES.get(entity, entity),
        name=text(n1, 2),
        code=id_code if qualifier in own_codes else "",
        id_qualifier=qualifier,
        id_code=id_code,
    )


def add_to_party(target: Party, segment: Segment) -> None:
    """N2 (extra name lines, kept as the first address lines), N3 address, N4 place."""
    if segment.id in ("N2", "N3"):
        target.address.extend(v for v in (text(segment, 1), text(segment, 2)) if v)
    elif segment.id == "N4":
        target.city = text(segment, 1)
        target.state = text(segment, 2)
        target.postal_code = text(segment, 3)
        target.country = text(segment, 4)


def reference(ref: Segment) -> Reference:
    qualifier = required(ref, 1, "reference qualifier")
    value, description = text(ref, 2), text(ref, 3)
    if not (value or description):
        required(ref, 2, "reference value", conditional=True)
    return Reference(qualifier=qualifier, value=value, description=description)


def dated(dtm: Segment) -> tuple[str, datetime.date]:
    qualifier = required(dtm, 1, "date qualifier")
    value = date(dtm, 2, "date", mandatory=True)
    assert value is not None
    return qualifier, value


def terms(itd: Segment) -> str:
    """ITD as one line of text: its description (ITD12) when sent, else built from the
    discount and net terms, e.g. ``1% discount within 15 days, net 30 days``."""
    described = text(itd, 12)
    if described:
        return described
    parts = []
    percent = decimal(itd, 3, "terms discount percent")
    if percent is not None:
        days, by = text(itd, 5), date(itd, 4, "terms discount due date")
        when = f" within {days} days" if days else f" by {by.isoformat()}" if by else ""
        parts.append(f"{percent}% discount{when}")
    net_days, net_date = text(itd, 7), date(itd, 6, "terms net due date")
    if net_days:
        parts.append(f"net {net_days} days")
    elif net_date:
        parts.append(f"net due {net_date.isoformat()}")
    if not parts and text(itd, 1):
        parts.append(f"terms type {text(itd, 1)}")
    return ", ".join(parts)


def allowance_charge(segment: Segment) -> AllowanceCharge | None:
    """SAC, or ITA in older invoices; ``None`` for indicator ``N`` (no allowance or charge).
    Amounts are X12 N2 (implied cents)."""
    amount_at, code_at, description_at = (5, 2, 15) if segment.id == "SAC" else (7, 3, 13)
    indicator = code(segment, 1, "allowance or charge indicator", _INDICATORS)
    if not indicator:
        return None
    required(segment, amount_at, "allowance or charge amount", conditional=True)
    amount = decimal(segment, amount_at, "allowance or charge amount", implied=2)
    assert amount is not None
    if amount < 0:
        # A negative charge is an allowance: the canonical amount is always positive.
        indicator, amount = ("C" if indicator == "A" else "A"), -amount
    return AllowanceCharge(
        indicator=indicator,
        amount=amount,
        code=text(segment, code_at),
        description=text(segment, description_at),
    )


def item_ids(
    segment: Segment, start: int, special: frozenset[str] = frozenset()
) -> tuple[ItemIds, dict[str, str]]:
    """Product/service id qualifier pairs from element ``start`` on.

    Returns the ids and, separately, the values whose qualifier is in ``special`` (the 856
    reads lots, serials and PO line numbers that way).
    """
    ids = ItemIds()
    extra: dict[str, str] = {}
    for index in range(start, len(segment.elements) + 1, 2):
        qualifier, value = text(segment, index), text(segment, index + 1)
        if not (qualifier or value):
            continue
        if not value:
            what = f"product id for qualifier {qualifier!r}"
            required(segment, index + 1, what, conditional=True)
        if not qualifier:
            required(segment, index, f"qualifier for product id {value!r}", conditional=True)
        if qualifier in special:
            extra[qualifier] = value
        elif qualifier in VENDOR_PART and not ids.vendor_part:
            ids.vendor_part = value
        elif qualifier in BUYER_PART and not ids.buyer_part:
            ids.buyer_part = value
        elif qualifier in GTIN and not ids.gtin:
            ids.gtin = value
        else:
            ids.others[qualifier] = value
    return ids, extra


def description(current: str, pid: Segment) -> str:
    """Free-form PID05 text, appended when a line has several PIDs."""
    added = text(pid, 5)
    if not added:
        return current
    return f"{current} {added}" if current else added


def check_line_count(ctt: Segment | None, lines: int) -> None:
    """CTT01 must count the line items the set carries."""
    if ctt is None:
        return
    declared = decimal(ctt, 1, "number of line items", mandatory=True)
    if declared != lines:
        raise invalid(
            ctt, 1, f"CTT01 says {declared} line items, the set has {lines}", ELEMENT_INVALID_CODE
        )
