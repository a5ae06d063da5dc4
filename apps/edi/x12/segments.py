"""The two value types every part of the codec shares: a separator set and a parsed segment."""

from __future__ import annotations

from dataclasses import dataclass, field

# Characters that may end a segment besides punctuation: many partners use a newline.
_WHITESPACE_TERMINATORS = "\n\r"


@dataclass(frozen=True)
class Separators:
    """The delimiters of one interchange, as declared by its ISA segment.

    ``repetition`` is empty for versions before 00402, where ISA11 is the standards id ``U``.
    """

    element: str = "*"
    component: str = ":"
    repetition: str = "^"
    segment: str = "~"

    def problem(self) -> str:
        """Why this set cannot delimit X12 data, or ``""`` when it can."""
        declared = [("element", self.element), ("component", self.component)]
        declared.append(("segment", self.segment))
        if self.repetition:
            declared.append(("repetition", self.repetition))
        for name, char in declared:
            if len(char) != 1:
                return f"{name} separator must be one character, not {char!r}"
            if char.isalnum():
                return f"{name} separator {char!r} is a letter or digit"
            if char.isspace() and not (name == "segment" and char in _WHITESPACE_TERMINATORS):
                return f"{name} separator {char!r} is whitespace"
        chars = [char for _, char in declared]
        if len(set(chars)) != len(chars):
            return f"separators are not distinct: {chars!r}"
        return ""

    def chars(self) -> str:
        return self.element + self.component + self.repetition + self.segment


@dataclass(frozen=True)
class Segment:
    """One segment: its id and its elements, ``elements[0]`` being XX01.

    ``position`` is 1-based: within the transaction set (ST = 1) for segments of a set, within
    the interchange (ISA = 1) for envelope segments. ``span`` is where the segment sits in the
    decoded text, so a set's raw text can be cut out unchanged.
    """

    id: str
    elements: tuple[str, ...]
    position: int
    span: tuple[int, int] = field(default=(0, 0), compare=False, repr=False)

    def get(self, index: int) -> str:
        """Element ``index`` (1-based, as in ``IT102``), ``""`` when absent."""
        if 1 <= index <= len(self.elements):
            return self.elements[index - 1]
        return ""

    def name(self, index: int) -> str:
        """The element's reference, e.g. ``IT102``."""
        return f"{self.id}{index:02d}"

    def components(self, index: int, separators: Separators) -> list[str]:
        return self.get(index).split(separators.component)
