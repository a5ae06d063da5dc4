"""Typed reads of element values (text, codes, decimals, dates) that fail as coded X12 errors."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

from ..errors import (
    ELEMENT_CONDITIONAL_MISSING,
    ELEMENT_INVALID_CHARACTER,
    ELEMENT_INVALID_CODE,
    ELEMENT_INVALID_DATE,
    ELEMENT_MANDATORY_MISSING,
    SEGMENT_MANDATORY_MISSING,
    X12Error,
    element_error,
    segment_error,
)
from ..segments import Segment

# X12 "R" (explicit decimal point) and "N" (implied decimals) numbers; no exponents, which
# X12 allows only from 005010 on and no supply-chain partner sends.
_REAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_INTEGER = re.compile(r"-?[0-9]+")
_DATE = re.compile(r"[0-9]{6}|[0-9]{8}")
# X12 YYMMDD dates: years before this are read as 20xx, the rest as 19xx.
_CENTURY_PIVOT = 50


def text(segment: Segment, index: int) -> str:
    """Element ``index`` with surrounding spaces dropped (X12 AN values are not padded)."""
    return segment.get(index).strip()


def required(segment: Segment, index: int, what: str, *, conditional: bool = False) -> str:
    value = text(segment, index)
    if not value:
        raise element_error(
            f"{what} is missing",
            ak403=ELEMENT_CONDITIONAL_MISSING if conditional else ELEMENT_MANDATORY_MISSING,
            segment=segment.id,
            position=segment.position,
            element=segment.name(index),
        )
    return value


def invalid(segment: Segment, index: int, detail: str, ak403: str) -> X12Error:
    return element_error(
        detail,
        ak403=ak403,
        segment=segment.id,
        position=segment.position,
        element=segment.name(index),
        value=segment.get(index),
    )


def code(segment: Segment, index: int, what: str, table: dict[str, str]) -> str:
    """The meaning of a coded element, from ``table``; unknown codes are errors."""
    value = required(segment, index, what)
    if value not in table:
        known = ", ".join(sorted(table))
        raise invalid(
            segment, index, f"{what} {value!r} is not one of {known}", ELEMENT_INVALID_CODE
        )
    return table[value]


def decimal(
    segment: Segment, index: int, what: str, *, implied: int = 0, mandatory: bool = False
) -> Decimal | None:
    """A number; ``implied`` > 0 reads an X12 N-type value (``2999`` with 2 → ``29.99``)."""
    value = required(segment, index, what) if mandatory else text(segment, index)
    if not value:
        return None
    pattern = _INTEGER if implied else _REAL
    if not pattern.fullmatch(value):
        raise invalid(
            segment, index, f"{what} {value!r} is not a number", ELEMENT_INVALID_CHARACTER
        )
    number = Decimal(value)
    return number.scaleb(-implied) if implied else number


def date(
    segment: Segment, index: int, what: str, *, mandatory: bool = False
) -> datetime.date | None:
    """A CCYYMMDD or YYMMDD date."""
    value = required(segment, index, what) if mandatory else text(segment, index)
    if not value:
        return None
    parsed = parse_date(value)
    if parsed is None:
        raise invalid(
            segment,
            index,
            f"{what} {value!r} is not a date (CCYYMMDD or YYMMDD)",
            ELEMENT_INVALID_DATE,
        )
    return parsed


def parse_date(value: str) -> datetime.date | None:
    if not _DATE.fullmatch(value):
        return None
    if len(value) == 6:
        year = int(value[:2])
        value = f"{20 if year < _CENTURY_PIVOT else 19}{value}"
    try:
        return datetime.date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        return None


def missing_segment(segment_id: str, what: str, position: int) -> X12Error:
    return segment_error(
        f"mandatory {what} segment is missing",
        ak304=SEGMENT_MANDATORY_MISSING,
        segment=segment_id,
        position=position,
    )
