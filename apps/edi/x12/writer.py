"""Writing X12: segments to text with a chosen separator set, and outbound envelopes.

A segment to write is a sequence: its id, then element values, each a string or a sequence
of component strings. Trailing empty elements and components are dropped, as X12 requires.
Values that contain a separator are refused rather than altered: callers clean free text.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from .segments import Separators

type Element = str | Sequence[str]
type OutSegment = Sequence[Element]

# Versions before 00402 have no repetition separator: ISA11 is then the standards id "U".
_FIRST_REPEATING_VERSION = "00402"


def _default_now() -> datetime.datetime:
    return datetime.datetime.now(tz=datetime.UTC)


@dataclass(frozen=True)
class OutboundEnvelope:
    """Who sends an interchange to whom, with which control numbers and version.

    ``version`` is GS08 (``004010``, ``005010X231A1``); ISA12 is its first five characters
    unless ``isa_version`` says otherwise. The group ids default to the interchange ids.
    """

    sender_id: str
    receiver_id: str
    interchange_control: str
    group_control: str
    functional_id: str
    version: str = "004010"
    sender_qualifier: str = "ZZ"
    receiver_qualifier: str = "ZZ"
    usage: str = "P"
    isa_version: str = ""
    group_sender: str = ""
    group_receiver: str = ""
    now: datetime.datetime = field(default_factory=_default_now)


def number(value: Decimal) -> str:
    """An X12 R value: plain notation, never an exponent."""
    return format(value, "f")


def implied(value: Decimal, places: int = 2) -> str:
    """An X12 N value (``29.99`` with 2 places → ``2999``); refuses values it would round."""
    scaled = value.scaleb(places)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} has more than {places} decimal places")
    return format(scaled.quantize(Decimal(1)), "f")


def format_segment(segment: OutSegment, separators: Separators) -> str:
    segment_id, *elements = segment
    forbidden = separators.chars()
    parts: list[str] = []
    for index, value in enumerate(elements, 1):
        components = [value] if isinstance(value, str) else list(value)
        for component in components:
            if any(char in forbidden for char in component):
                raise ValueError(
                    f"{segment_id}{index:02d} value {component!r} contains a separator "
                    f"character ({forbidden!r})"
                )
        while components and not components[-1]:
            components.pop()
        parts.append(separators.component.join(components))
    while parts and not parts[-1]:
        parts.pop()
    return separators.element.join([segment_id, *parts])


def write_segments(
    segments: Iterable[OutSegment], separators: Separators, *, line_break: str = "\n"
) -> str:
    """Segments as text; ``line_break`` follows each terminator unless it is a newline."""
    problem = separators.problem()
    if problem:
        raise ValueError(problem)
    end = separators.segment + ("" if separators.segment in "\r\n" else line_break)
    return "".join(format_segment(segment, separators) + end for segment in segments)


def transaction_set(
    set_id: str, control: str, body: Sequence[OutSegment], implementation: str = ""
) -> list[OutSegment]:
    """ST + body + SE with the segment count (ST and SE included)."""
    st: list[Element] = ["ST", set_id, control]
    if implementation:
        st.append(implementation)
    return [st, *body, ["SE", str(len(body) + 2), control]]


def write_interchange(
    envelope: OutboundEnvelope,
    sets: Sequence[Sequence[OutSegment]],
    separators: Separators | None = None,
    *,
    interchange_segments: Sequence[OutSegment] = (),
    line_break: str = "\n",
) -> str:
    """A whole interchange: ISA, one GS..GE around ``sets`` (none when there are no sets),
    ``interchange_segments`` such as TA1, and IEA."""
    separators = separators or Separators()
    isa_version = envelope.isa_version or envelope.version[:5]
    if isa_version < _FIRST_REPEATING_VERSION:
        separators = replace(separators, repetition="")
    elif not separators.repetition:
        raise ValueError(f"ISA version {isa_version} needs a repetition separator")
    control = envelope.interchange_control.zfill(9)
    if not (control.isascii() and control.isdigit() and len(control) == 9):
        raise ValueError(f"interchange control number {envelope.interchange_control!r}")
    segments: list[OutSegment] = []
    if sets:
        segments.append(_gs(envelope))
        for tx in sets:
            segments.extend(tx)
        segments.append(["GE", str(len(sets)), envelope.group_control])
    segments.extend(interchange_segments)
    segments.append(["IEA", "1" if sets else "0", control])
    isa = _isa(envelope, isa_version, control, separators, line_break)
    return isa + write_segments(segments, separators, line_break=line_break)


def _isa(
    envelope: OutboundEnvelope,
    version: str,
    control: str,
    separators: Separators,
    line_break: str,
) -> str:
    def padded(value: str, width: int, what: str) -> str:
        if len(value) > width:
            raise ValueError(f"{what} {value!r} is longer than {width} characters")
        return value.ljust(width)

    elements = [
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        padded(envelope.sender_qualifier, 2, "sender qualifier"),
        padded(envelope.sender_id, 15, "sender id"),
        padded(envelope.receiver_qualifier, 2, "receiver qualifier"),
        padded(envelope.receiver_id, 15, "receiver id"),
        envelope.now.strftime("%y%m%d"),
        envelope.now.strftime("%H%M"),
        separators.repetition or "U",
        version,
        control,
        "0",
        envelope.usage,
    ]
    # ISA16 *is* the component separator, so the ISA is written by hand, not checked.
    forbidden = separators.chars()
    for index, value in enumerate(elements[1:], 1):
        if index != 11 and any(char in forbidden for char in value):
            raise ValueError(f"ISA{index:02d} value {value!r} contains a separator character")
    text = separators.element.join([*elements, separators.component])
    return text + separators.segment + ("" if separators.segment in "\r\n" else line_break)


def _gs(envelope: OutboundEnvelope) -> OutSegment:
    return [
        "GS",
        envelope.functional_id,
        envelope.group_sender or envelope.sender_id,
        envelope.group_receiver or envelope.receiver_id,
        envelope.now.strftime("%Y%m%d"),
        envelope.now.strftime("%H%M"),
        envelope.group_control,
        "X",
        envelope.version,
    ]
