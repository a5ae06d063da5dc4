"""Reading an interchange: ISA/IEA, GS/GE and ST/SE envelopes, validated and split into sets.

ISA/IEA problems raise :class:`X12Error` (nothing in the interchange can be trusted). GS/GE
problems are kept on the functional group and ST/SE problems on the transaction set, so one
bad set does not stop the others and the 997/999 can say exactly which were rejected.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from .errors import (
    SEGMENT_UNRECOGNIZED,
    X12Error,
    group_error,
    interchange_error,
    segment_error,
    set_error,
)
from .interchange import FunctionalGroup, Interchange, InterchangeHeader, TransactionSet
from .reader import decode_text, iter_segments, read_isa
from .segments import Segment, Separators

_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{1,2}")
_SET_ID = re.compile(r"[0-9]{3}")
_COUNT = re.compile(r"[0-9]{1,9}")
# ISA elements checked before anything is trusted: (index, pattern, TA105 note, problem).
_ISA_CHECKS = [
    (5, re.compile(r".{1,2}"), "005", "sender id qualifier must be 2 characters"),
    (6, re.compile(r".{1,15}"), "006", "interchange sender id must be 1 to 15 characters"),
    (7, re.compile(r".{1,2}"), "007", "receiver id qualifier must be 2 characters"),
    (8, re.compile(r".{1,15}"), "008", "interchange receiver id must be 1 to 15 characters"),
    (9, re.compile(r"[0-9]{6}"), "014", "interchange date must be YYMMDD"),
    (10, re.compile(r"[0-9]{4}"), "015", "interchange time must be HHMM"),
    (12, re.compile(r"[0-9]{5}"), "017", "interchange version must be 5 digits"),
    (13, re.compile(r"[0-9]{1,9}"), "018", "interchange control number must be 9 digits"),
    (15, re.compile(r"[PTI]"), "020", "usage indicator must be P, T or I"),
]
_WHITESPACE = " \t\r\n\f\v\ufeff"


def read_header(data: bytes | str) -> InterchangeHeader:
    """Only the ISA of ``data``: enough to address a TA1 when the rest is broken."""
    text = decode_text(data)
    isa, separators = read_isa(text)
    return InterchangeHeader(**_header_fields(isa, separators))


def read_interchange(data: bytes | str) -> Interchange:
    """The single interchange in ``data``; raises when there are several (see below)."""
    interchanges = read_interchanges(data)
    if len(interchanges) > 1:
        raise interchange_error(
            f"the data holds {len(interchanges)} interchanges; read it with read_interchanges",
            note="022",
            position=None,
        )
    return interchanges[0]


def read_interchanges(data: bytes | str) -> list[Interchange]:
    """Every interchange in ``data`` (some files concatenate several ISA..IEA)."""
    text = decode_text(data)
    found: list[Interchange] = []
    offset = 0
    while True:
        interchange, offset = _read_one(text, offset)
        found.append(interchange)
        rest = text[offset:].lstrip(_WHITESPACE)
        if not rest.startswith("ISA"):
            interchange.trailing = rest
            return found
        offset = len(text) - len(rest)


def _read_one(text: str, offset: int) -> tuple[Interchange, int]:
    isa, separators = read_isa(text, offset)
    interchange = Interchange(**_header_fields(isa, separators))
    builder = _Builder(interchange, text)
    for segment in iter_segments(text, isa.span[1], separators, 2):
        if segment.id == "IEA":
            builder.finish(segment)
            return interchange, segment.span[1]
        builder.add(segment)
    raise interchange_error(
        "the interchange ends without an IEA trailer", note="023", segment="IEA", position=None
    )


def _header_fields(isa: Segment, separators: Separators) -> dict[str, Any]:
    def element(index: int) -> str:
        return isa.get(index).strip()

    for index, pattern, note, problem in _ISA_CHECKS:
        if not pattern.fullmatch(element(index)):
            raise interchange_error(
                f"{problem} (got {isa.get(index)!r})", note=note, element=isa.name(index)
            )
    return {
        "sender_qualifier": element(5),
        "sender_id": element(6),
        "receiver_qualifier": element(7),
        "receiver_id": element(8),
        "date": element(9),
        "time": element(10),
        "control": element(13),
        "version": element(12),
        "usage": element(15),
        "ack_requested": element(14),
        "separators": separators,
    }


def _number(value: str) -> int | None:
    """A count from a trailer (SE01, GE01, IEA01); ``None`` unless plain ASCII digits."""
    return int(value) if _COUNT.fullmatch(value) else None


def _label(segment_id: str) -> str:
    """A segment id fit for a message, even when the 'id' is a run of garbage."""
    return segment_id if len(segment_id) <= 3 else repr(segment_id[:10])


class _Builder:
    """Walks the segments between ISA and IEA, opening and closing groups and sets."""

    def __init__(self, interchange: Interchange, text: str) -> None:
        self.interchange = interchange
        self.text = text
        self.group: FunctionalGroup | None = None
        self.open_set: list[Segment] | None = None

    def add(self, segment: Segment) -> None:
        kind = segment.id
        if kind.startswith("ISA"):
            raise interchange_error(
                "a new interchange starts before the IEA of this one",
                note="023",
                position=segment.position,
            )
        handler = {"GS": self._gs, "GE": self._ge, "ST": self._st, "SE": self._se}.get(kind)
        if handler:
            handler(segment)
        elif self.open_set is not None:
            self.open_set.append(segment)
        elif self.group is None and kind == "TA1":
            self.interchange.ta1_segments.append(segment)
        elif self.group is not None:
            self._group_problem(
                group_error(
                    f"segment {_label(kind)} outside a transaction set",
                    ak905="",
                    segment=kind[:10],
                    position=segment.position,
                )
            )
        else:
            raise interchange_error(
                f"segment {_label(kind)} outside a functional group",
                note="024",
                segment=kind[:10],
                position=segment.position,
            )

    def finish(self, iea: Segment) -> None:
        if self.group is not None:
            self._close_group(None, iea.position)
        groups = len(self.interchange.groups)
        count = iea.get(1).strip()
        if _number(count) != groups:
            raise interchange_error(
                f"IEA01 says {count!r} functional groups, the interchange has {groups}",
                note="021",
                segment="IEA",
                position=iea.position,
                element="IEA01",
            )
        control = iea.get(2).strip()
        if control != self.interchange.control:
            raise interchange_error(
                f"IEA02 control number {control!r} does not match ISA13 "
                f"{self.interchange.control!r}",
                note="001",
                segment="IEA",
                position=iea.position,
                element="IEA02",
            )

    # --- groups -----------------------------------------------------------------------------

    def _gs(self, gs: Segment) -> None:
        if self.group is not None:
            self._close_group(None, gs.position)
        values = [gs.get(index).strip() for index in range(1, 9)]
        group = FunctionalGroup(*values, interchange=self.interchange, position=gs.position)
        self.interchange.groups.append(group)
        self.group = group
        missing = [gs.name(index) for index, value in enumerate(values, 1) if not value]
        if missing:
            group.error = group_error(
                f"mandatory elements missing: {', '.join(missing)}",
                ak905="",
                segment="GS",
                position=gs.position,
                element=missing[0],
            )
        elif not _COUNT.fullmatch(group.control):
            group.error = group_error(
                f"group control number {group.control!r} must be digits",
                ak905="6",
                segment="GS",
                position=gs.position,
                element="GS06",
            )
        elif any(g.control == group.control for g in self.interchange.groups[:-1]):
            group.error = group_error(
                f"group control number {group.control!r} is used twice in the interchange",
                ak905="19",
                segment="GS",
                position=gs.position,
                element="GS06",
            )

    def _ge(self, ge: Segment) -> None:
        if self.group is None:
            raise interchange_error(
                "GE without a GS", note="024", segment="GE", position=ge.position
            )
        self._close_group(ge, ge.position)

    def _close_group(self, ge: Segment | None, position: int) -> None:
        group = self.group
        assert group is not None
        if self.open_set is not None:
            self._close_set(None)
        self.group = None
        sets = len(group.sets)
        if ge is None:
            self._group_problem(
                group_error(
                    f"GE trailer missing for group {group.control!r}",
                    ak905="3",
                    segment="GE",
                    position=position,
                ),
                group,
            )
            return
        count, control = ge.get(1).strip(), ge.get(2).strip()
        group.declared_sets = _number(count)
        if group.declared_sets != sets:
            self._group_problem(
                group_error(
                    f"GE01 says {count!r} transaction sets, the group has {sets}",
                    ak905="5",
                    segment="GE",
                    position=position,
                    element="GE01",
                ),
                group,
            )
        if control != group.control:
            self._group_problem(
                group_error(
                    f"GE02 control number {control!r} does not match GS06 {group.control!r}",
                    ak905="4",
                    segment="GE",
                    position=position,
                    element="GE02",
                ),
                group,
            )

    def _group_problem(self, error: X12Error, group: FunctionalGroup | None = None) -> None:
        group = group or self.group
        if group is not None and group.error is None:
            group.error = error

    # --- transaction sets -------------------------------------------------------------------

    def _st(self, st: Segment) -> None:
        if self.group is None:
            raise interchange_error(
                "ST outside a functional group", note="024", segment="ST", position=st.position
            )
        if self.open_set is not None:
            self._close_set(None)
        self.open_set = [st]

    def _se(self, se: Segment) -> None:
        if self.open_set is None:
            self._group_problem(
                group_error("SE without an ST", ak905="", segment="SE", position=se.position)
            )
            return
        self.open_set.append(se)
        self._close_set(se)

    def _close_set(self, se: Segment | None) -> None:
        raw_segments, self.open_set = self.open_set or [], None
        group = self.group
        assert group is not None
        segments = [replace(s, position=n) for n, s in enumerate(raw_segments, 1)]
        st = segments[0]
        tx = TransactionSet(
            set_id=st.get(1).strip(),
            control=st.get(2).strip(),
            segments=segments,
            raw=self.text[st.span[0] : segments[-1].span[1]],
            group=group,
            position=raw_segments[0].position,
            implementation=st.get(3).strip(),
        )
        tx.error = _set_problem(tx, se is not None, [s.control for s in group.sets])
        group.sets.append(tx)


def _set_problem(tx: TransactionSet, closed: bool, controls: list[str]) -> X12Error | None:
    """The first ST/SE or segment-id problem of a set, if any."""
    segments = tx.segments
    if not _SET_ID.fullmatch(tx.set_id):
        return set_error(
            f"transaction set id {tx.set_id!r} is not a 3-digit code",
            ak502="6",
            segment="ST",
            position=1,
            element="ST01",
        )
    if not tx.control:
        return set_error(
            "transaction set control number is missing",
            ak502="7",
            segment="ST",
            position=1,
            element="ST02",
        )
    if tx.control in controls:
        return set_error(
            f"control number {tx.control!r} is used twice in the group",
            ak502="23",
            segment="ST",
            position=1,
            element="ST02",
        )
    for segment in segments[1:]:
        if not _SEGMENT_ID.fullmatch(segment.id):
            return segment_error(
                f"{_label(segment.id)} is not a segment id",
                ak304=SEGMENT_UNRECOGNIZED,
                segment=segment.id[:10],
                position=segment.position,
            )
    if not closed:
        return set_error(
            f"SE trailer missing for transaction set {tx.control!r}",
            ak502="2",
            segment="SE",
            position=len(segments) + 1,
        )
    se = segments[-1]
    count, control = se.get(1).strip(), se.get(2).strip()
    if _number(count) != len(segments):
        return set_error(
            f"SE01 says {count!r} segments, the set has {len(segments)} (ST to SE)",
            ak502="4",
            segment="SE",
            position=se.position,
            element="SE01",
        )
    if control != tx.control:
        return set_error(
            f"SE02 control number {control!r} does not match ST02 {tx.control!r}",
            ak502="3",
            segment="SE",
            position=se.position,
            element="SE02",
        )
    return None
