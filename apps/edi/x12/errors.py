"""The one error the X12 codec raises, carrying the product's exception code and the X12 ack code.

``code`` is the product's exception code (``PARSE_ERROR``, ``ENVELOPE_REJECTED``,
``SCHEMA_INVALID``). ``level`` and ``syntax_code`` say how an acknowledgment reports it:

=============  ======================================  ===============================
level          where it is reported                    syntax_code is
=============  ======================================  ===============================
interchange    TA1 (TA104 ``R``)                       TA105 note code, e.g. ``001``
group          997/999 AK9 (``R``)                     AK905 code, e.g. ``5``
set            AK5/IK5 (``R``)                         AK502/IK502 code, e.g. ``4``
segment        AK3/IK3 + AK5/IK5 ``R`` ``5``           AK304/IK304 code, e.g. ``3``
element        AK3 + AK4 / IK3 + IK4, AK5 ``R`` ``5``  AK403/IK403 code, e.g. ``7``
=============  ======================================  ===============================
"""

from __future__ import annotations

from typing import Any

PARSE_ERROR = "PARSE_ERROR"
ENVELOPE_REJECTED = "ENVELOPE_REJECTED"
SCHEMA_INVALID = "SCHEMA_INVALID"

# AK304/IK304 segment syntax error codes used by the codec.
SEGMENT_UNRECOGNIZED = "1"
SEGMENT_MANDATORY_MISSING = "3"
SEGMENT_HAS_ELEMENT_ERRORS = "8"

# AK403/IK403 element syntax error codes used by the codec.
ELEMENT_MANDATORY_MISSING = "1"
ELEMENT_CONDITIONAL_MISSING = "2"
ELEMENT_INVALID_CHARACTER = "6"
ELEMENT_INVALID_CODE = "7"
ELEMENT_INVALID_DATE = "8"


class X12Error(Exception):
    """A coded problem found in X12 data, precise enough for an operator and for an ack.

    ``message`` reads ``"IT1 segment 12, element IT102: quantity 'abc' is not a number"``;
    ``position`` is the 1-based segment position in the transaction set (ST = 1) for set,
    segment and element problems, and in the interchange (ISA = 1) for envelope problems.
    ``value`` is the offending element value when there is one (copied into AK404/IK404).
    """

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        segment: str = "",
        position: int | None = None,
        element: str = "",
        level: str = "",
        syntax_code: str = "",
        value: str = "",
    ) -> None:
        self.code = code
        self.detail = detail
        self.segment = segment
        self.position = position
        self.element = element
        self.level = level
        self.syntax_code = syntax_code
        self.value = value
        self.message = _compose(detail, segment, position, element)
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "segment": self.segment,
            "position": self.position,
            "element": self.element,
            "level": self.level,
            "syntax_code": self.syntax_code,
        }

    def __repr__(self) -> str:
        return f"X12Error({self.code!r}, {self.message!r})"


def _compose(detail: str, segment: str, position: int | None, element: str) -> str:
    if not segment:
        return detail
    where = f"{segment} segment {position}" if position is not None else f"{segment} segment"
    if element:
        where += f", element {element}"
    return f"{where}: {detail}"


def parse_error(detail: str) -> X12Error:
    """The input is not readable as X12 at all (no ISA, undecodable bytes)."""
    return X12Error(PARSE_ERROR, detail, level="interchange", syntax_code="024")


def interchange_error(
    detail: str, *, note: str, segment: str = "ISA", position: int | None = 1, element: str = ""
) -> X12Error:
    """An ISA/IEA problem: the whole interchange is rejected (TA1 note code ``note``)."""
    return X12Error(
        ENVELOPE_REJECTED,
        detail,
        segment=segment,
        position=position,
        element=element,
        level="interchange",
        syntax_code=note,
    )


def group_error(
    detail: str, *, ak905: str, segment: str, position: int | None, element: str = ""
) -> X12Error:
    """A GS/GE problem: the functional group is rejected (AK905 code ``ak905``)."""
    return X12Error(
        ENVELOPE_REJECTED,
        detail,
        segment=segment,
        position=position,
        element=element,
        level="group",
        syntax_code=ak905,
    )


def set_error(
    detail: str, *, ak502: str, segment: str, position: int | None, element: str = ""
) -> X12Error:
    """An ST/SE problem: the transaction set is rejected (AK502 code ``ak502``)."""
    return X12Error(
        SCHEMA_INVALID,
        detail,
        segment=segment,
        position=position,
        element=element,
        level="set",
        syntax_code=ak502,
    )


def segment_error(detail: str, *, ak304: str, segment: str, position: int | None) -> X12Error:
    """A segment inside a set is missing, unknown or misplaced (AK304 code ``ak304``)."""
    return X12Error(
        SCHEMA_INVALID,
        detail,
        segment=segment,
        position=position,
        level="segment",
        syntax_code=ak304,
    )


def element_error(
    detail: str, *, ak403: str, segment: str, position: int | None, element: str, value: str = ""
) -> X12Error:
    """An element inside a set is missing or invalid (AK403 code ``ak403``)."""
    return X12Error(
        SCHEMA_INVALID,
        detail,
        segment=segment,
        position=position,
        element=element,
        level="element",
        syntax_code=ak403,
        value=value,
    )
