"""Acknowledgments for inbound interchanges: 997 and 999 per functional group, TA1 per ISA.

Each ack is a whole interchange of its own, addressed back to the sender (interchange and
group ids swapped), with control numbers supplied by the caller and, unless the caller
chooses others, the sender's own separators. Set and group results come
from the ``error`` the reader (and, once run, :func:`map_interchange`) left on them.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import replace

from .errors import SEGMENT_HAS_ELEMENT_ERRORS, X12Error
from .interchange import FunctionalGroup, InterchangeHeader, TransactionSet
from .segments import Separators
from .writer import Element, OutboundEnvelope, OutSegment, transaction_set, write_interchange

ACCEPTED, REJECTED, PARTIAL = "A", "R", "P"
VERSION_999 = "005010X231A1"
_ELEMENT_REF = re.compile(r"[A-Z][A-Z0-9]{1,2}([0-9]{2})")
_BAD_DATA_LENGTH = 99  # AK404/IK404 is AN 1/99
# TA105 when a TA1 is asked for with an error found below the interchange level.
_INVALID_CONTENT_NOTE = "024"
_FIRST_REPEATING_VERSION = "00402"
# Candidates for a repetition separator when the partner's 004010 data declared none; one
# is always free since an interchange uses at most four separators.
_SPARE_REPETITION = "^{}!|"


def ack_997(
    group: FunctionalGroup,
    *,
    interchange_control: str,
    group_control: str,
    now: datetime.datetime,
    set_control: str = "0001",
    separators: Separators | None = None,
    line_break: str = "\n",
) -> str:
    """A 997 functional acknowledgment (AK1/AK2/AK3/AK4/AK5/AK9) for ``group``."""
    return _functional_ack(
        group,
        kind="997",
        version=group.version or "004010",
        isa_version=group.interchange.version,
        interchange_control=interchange_control,
        group_control=group_control,
        now=now,
        set_control=set_control,
        separators=separators,
        line_break=line_break,
    )


def ack_999(
    group: FunctionalGroup,
    *,
    interchange_control: str,
    group_control: str,
    now: datetime.datetime,
    set_control: str = "0001",
    separators: Separators | None = None,
    line_break: str = "\n",
) -> str:
    """A 999 implementation acknowledgment (AK1/AK2/IK3/IK4/IK5/AK9) for ``group``."""
    return _functional_ack(
        group,
        kind="999",
        version=VERSION_999,
        isa_version="00501",
        interchange_control=interchange_control,
        group_control=group_control,
        now=now,
        set_control=set_control,
        separators=separators,
        line_break=line_break,
    )


def ack_ta1(
    header: InterchangeHeader,
    *,
    interchange_control: str,
    now: datetime.datetime,
    error: X12Error | None = None,
    separators: Separators | None = None,
    line_break: str = "\n",
) -> str:
    """A TA1 interchange acknowledgment: ``A``/``000`` without ``error``, else ``R`` with the
    error's TA105 note code (e.g. ``001`` control number mismatch in IEA)."""
    if error is None:
        status, note = ACCEPTED, "000"
    else:
        status = REJECTED
        interchange_level = error.level == "interchange" and len(error.syntax_code) == 3
        note = error.syntax_code if interchange_level else _INVALID_CONTENT_NOTE
    separators = _separators(separators, header.separators, header.version)
    clean = _cleaner(separators)
    ta1 = ["TA1", header.control, header.date, header.time, status, note]
    outbound = OutboundEnvelope(
        sender_id=clean(header.receiver_id),
        receiver_id=clean(header.sender_id),
        sender_qualifier=clean(header.receiver_qualifier),
        receiver_qualifier=clean(header.sender_qualifier),
        interchange_control=interchange_control,
        group_control="",
        functional_id="",
        version=header.version,
        usage=header.usage,
        now=now,
    )
    return write_interchange(
        outbound, [], separators, interchange_segments=[ta1], line_break=line_break
    )


def group_status(group: FunctionalGroup) -> str:
    """AK901: accepted, rejected or partially accepted."""
    accepted = sum(1 for tx in group.sets if tx.error is None)
    if group.error is not None or accepted == 0 < len(group.sets):
        return REJECTED
    return ACCEPTED if accepted == len(group.sets) else PARTIAL


def _functional_ack(
    group: FunctionalGroup,
    *,
    kind: str,
    version: str,
    isa_version: str,
    interchange_control: str,
    group_control: str,
    now: datetime.datetime,
    set_control: str,
    separators: Separators | None,
    line_break: str,
) -> str:
    prefix = "AK" if kind == "997" else "IK"
    interchange = group.interchange
    separators = _separators(separators, interchange.separators, isa_version)
    clean = _cleaner(separators)
    ak1: list[Element] = ["AK1", clean(group.functional_id), clean(group.control)]
    if kind == "999":
        ak1.append(clean(group.version))
    body: list[OutSegment] = [ak1]
    for tx in group.sets:
        body.extend(_set_response(tx, prefix, kind, clean))
    received = len(group.sets)
    accepted = sum(1 for tx in group.sets if tx.error is None)
    declared = group.declared_sets if group.declared_sets is not None else received
    ak9: list[Element] = ["AK9", group_status(group), str(declared), str(received), str(accepted)]
    if group.error is not None and group.error.syntax_code:
        ak9.append(group.error.syntax_code)
    body.append(ak9)
    outbound = OutboundEnvelope(
        sender_id=clean(interchange.receiver_id),
        receiver_id=clean(interchange.sender_id),
        sender_qualifier=clean(interchange.receiver_qualifier),
        receiver_qualifier=clean(interchange.sender_qualifier),
        group_sender=clean(group.receiver),
        group_receiver=clean(group.sender),
        interchange_control=interchange_control,
        group_control=group_control,
        functional_id="FA",
        version=clean(version),
        isa_version=isa_version,
        usage=interchange.usage,
        now=now,
    )
    implementation = VERSION_999 if kind == "999" else ""
    ack = transaction_set(kind, set_control, body, implementation)
    return write_interchange(outbound, [ack], separators, line_break=line_break)


def _set_response(
    tx: TransactionSet, prefix: str, kind: str, clean: Callable[[str], str]
) -> list[OutSegment]:
    ak2: list[Element] = ["AK2", clean(tx.set_id)[:3], clean(tx.control)[:9]]
    if kind == "999" and tx.implementation:
        ak2.append(clean(tx.implementation))
    segments: list[OutSegment] = [ak2]
    error = tx.error
    if error is None:
        segments.append([f"{prefix}5", ACCEPTED])
        return segments
    if error.level in ("segment", "element"):
        segment_code = SEGMENT_HAS_ELEMENT_ERRORS if error.level == "element" else error.syntax_code
        position = str(error.position or 1)
        segments.append([f"{prefix}3", _segment_id(error.segment), position, "", segment_code])
        reference = _ELEMENT_REF.fullmatch(error.element)
        if error.level == "element" and reference:
            bad = clean(error.value)[:_BAD_DATA_LENGTH]
            element_position = str(int(reference.group(1)))
            segments.append([f"{prefix}4", element_position, "", error.syntax_code, bad])
        segments.append([f"{prefix}5", REJECTED, "5"])
    else:
        segments.append([f"{prefix}5", REJECTED, error.syntax_code or "5"])
    return segments


def _separators(chosen: Separators | None, inbound: Separators, isa_version: str) -> Separators:
    """The caller's choice, else the partner's own: its data cannot contain them."""
    if chosen is not None:
        return chosen
    if isa_version >= _FIRST_REPEATING_VERSION and not inbound.repetition:
        spare = next(char for char in _SPARE_REPETITION if char not in inbound.chars())
        return replace(inbound, repetition=spare)
    return inbound


def _segment_id(value: str) -> str:
    """AK301/IK301 must be a segment id even when the offending one was garbage."""
    letters = "".join(char for char in value.upper() if char.isascii() and char.isalnum())
    return letters[:3] if len(letters) >= 2 else "ZZZ"


def _cleaner(separators: Separators) -> Callable[[str], str]:
    """Copies of partner data must not carry the ack's own separators."""
    forbidden = set(separators.chars()) | {"\r", "\n"}

    def clean(value: str) -> str:
        return "".join(char for char in value if char not in forbidden).strip()

    return clean
