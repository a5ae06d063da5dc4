"""What an interchange reads into: header, functional groups and transaction sets."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from .errors import X12Error
from .segments import Segment, Separators


@dataclass
class InterchangeHeader:
    """What the ISA says: partners (padding stripped), control number, date/time, usage."""

    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    date: str
    time: str
    control: str
    version: str
    usage: str
    ack_requested: str
    separators: Separators

    @property
    def sent_at(self) -> datetime.datetime | None:
        """ISA09/ISA10 as a datetime (YYMMDD, years 00-49 read as 20xx)."""
        try:
            parsed = datetime.datetime.strptime(self.date + self.time, "%y%m%d%H%M")
        except ValueError:
            return None
        return parsed


@dataclass(eq=False)
class TransactionSet:
    """One ST..SE set: its segments (positions from ST = 1) and its raw text, so the product
    can store it as a child transaction of the interchange. ``error`` is set when the set is
    rejected, by the envelope check or by :func:`map_interchange`; ``document`` holds the
    canonical document once mapped."""

    set_id: str
    control: str
    segments: list[Segment]
    raw: str
    group: FunctionalGroup = field(repr=False)
    position: int = 0
    implementation: str = ""
    error: X12Error | None = None
    document: Any = None

    @property
    def version(self) -> str:
        return self.group.version

    @property
    def sender(self) -> str:
        return self.group.sender

    @property
    def receiver(self) -> str:
        return self.group.receiver

    @property
    def separators(self) -> Separators:
        return self.group.interchange.separators

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(eq=False)
class FunctionalGroup:
    """One GS..GE group; ``error`` is a GS/GE problem (count or control number mismatch)."""

    functional_id: str
    sender: str
    receiver: str
    date: str
    time: str
    control: str
    agency: str
    version: str
    interchange: Interchange = field(repr=False)
    position: int = 0
    sets: list[TransactionSet] = field(default_factory=list)
    declared_sets: int | None = None
    error: X12Error | None = None


@dataclass(eq=False)
class Interchange(InterchangeHeader):
    """A whole ISA..IEA interchange. ``ta1_segments`` are TA1 acknowledgments sent at the
    interchange level; ``trailing`` is whatever followed the IEA (ignored)."""

    groups: list[FunctionalGroup] = field(default_factory=list)
    ta1_segments: list[Segment] = field(default_factory=list)
    trailing: str = ""

    @property
    def transaction_sets(self) -> list[TransactionSet]:
        return [tx for group in self.groups for tx in group.sets]

    @property
    def errors(self) -> list[X12Error]:
        """Group and set problems, in order (ISA/IEA problems were raised instead)."""
        found: list[X12Error] = []
        for group in self.groups:
            if group.error:
                found.append(group.error)
            found.extend(tx.error for tx in group.sets if tx.error)
        return found
