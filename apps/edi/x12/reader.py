"""Turning partner bytes into segments: text decoding, ISA separator detection, tokenising.

Real files arrive with UTF-8 byte-order marks, as UTF-16 (with or without a BOM), with
newlines or indentation between segments and with any delimiter set the ISA declares. This
module copes with all of that and knows nothing about envelopes or documents.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from itertools import pairwise

from .errors import interchange_error, parse_error
from .segments import Segment, Separators

ISA_LENGTH = 106
_ISA_ELEMENTS = 16
# A non-padded ISA is shorter than 106 characters; anything much longer is not an ISA.
_ISA_SEARCH_LIMIT = 300
_WHITESPACE = " \t\r\n\f\v"
# Notes for TA105 by the separator a problem is about.
_SEPARATOR_NOTES = {"element": "026", "component": "027"}


def decode_text(data: bytes | bytearray | memoryview | str) -> str:
    """The text of ``data`` without byte-order mark or leading whitespace.

    Bytes are UTF-16 when they start with a UTF-16 BOM or, without one, when every other byte
    is NUL; otherwise UTF-8, falling back to Latin-1 because partners send Windows code pages
    and an element with an odd accent must not make a whole interchange unreadable.
    """
    text = data if isinstance(data, str) else _decode_bytes(bytes(data))
    return text.lstrip("\ufeff" + _WHITESPACE)


def _decode_bytes(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        return _utf8_or_latin1(data[len(codecs.BOM_UTF8) :])
    if data.startswith(codecs.BOM_UTF16_LE):
        return _utf16(data[2:], "utf-16-le")
    if data.startswith(codecs.BOM_UTF16_BE):
        return _utf16(data[2:], "utf-16-be")
    encoding = _sniff_utf16(data)
    if encoding:
        return _utf16(data, encoding)
    return _utf8_or_latin1(data)


def _sniff_utf16(data: bytes) -> str:
    sample = data[:400]
    units = len(sample) // 2
    if units == 0:
        return ""
    even_nuls = sample[0::2].count(0)
    odd_nuls = sample[1::2].count(0)
    # ASCII text in UTF-16 has a NUL in (nearly) every code unit, always on the same side.
    if odd_nuls * 2 >= units and odd_nuls > even_nuls:
        return "utf-16-le"
    if even_nuls * 2 >= units and even_nuls > odd_nuls:
        return "utf-16-be"
    return ""


def _utf16(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise parse_error(
            f"the data looks like {encoding.upper()} but is not valid there: {error.reason} "
            f"at byte {error.start}"
        ) from None


def _utf8_or_latin1(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def read_isa(text: str, start: int = 0) -> tuple[Segment, Separators]:
    """The ISA segment starting at ``start`` and the separators it declares.

    The ISA is fixed-width (106 characters): the element separator is its 4th character,
    ISA16 the component separator and the next character the segment terminator. Separators
    are located by counting, which gives the same answer for a proper ISA and still reads the
    unpadded ISAs some senders produce.
    """
    if not text.startswith("ISA", start):
        found = text[start : start + 20]
        raise parse_error(f"no ISA segment at the start of the data (found {found!r})")
    available = len(text) - start
    if available < ISA_LENGTH:
        raise interchange_error(
            f"interchange header is truncated: {available} of {ISA_LENGTH} characters",
            note="023",
        )
    element = text[start + 3]
    window = text[start : start + _ISA_SEARCH_LIMIT]
    cuts = [3]
    while len(cuts) < _ISA_ELEMENTS:
        found = window.find(element, cuts[-1] + 1)
        if found < 0:
            raise interchange_error(
                f"ISA has {len(cuts)} of {_ISA_ELEMENTS} elements separated by {element!r}",
                note="022",
            )
        cuts.append(found)
    last = cuts[-1]
    if last + 2 >= len(window):
        raise interchange_error("interchange header ends before its terminator", note="023")
    elements = [window[a + 1 : b] for a, b in pairwise(cuts)]
    component, terminator = window[last + 1], window[last + 2]
    elements.append(component)
    version, isa11 = elements[11], elements[10]
    # ISA11 became the repetition separator in 00402; before that it is the standards id "U".
    repeats = version >= "00402" and len(isa11) == 1 and not (isa11.isalnum() or isa11.isspace())
    separators = Separators(
        element=element,
        component=component,
        repetition=isa11 if repeats else "",
        segment=terminator,
    )
    problem = separators.problem()
    if problem:
        note = _SEPARATOR_NOTES.get(problem.split(" ", 1)[0], "022")
        raise interchange_error(f"ISA declares unusable separators: {problem}", note=note)
    span = (start, start + last + 3)
    return Segment("ISA", tuple(elements), 1, span), separators


def iter_segments(
    text: str, offset: int, separators: Separators, position: int
) -> Iterator[Segment]:
    """Segments from ``offset`` on, numbered from ``position``.

    Whitespace around terminators is dropped (pretty-printed files, CRLF after ``~``), empty
    segments are skipped and a last segment without terminator is accepted.
    """
    strip = "".join(char for char in _WHITESPACE if char not in separators.chars())
    terminator, element = separators.segment, separators.element
    end_of_text = len(text)
    pos = offset
    while pos < end_of_text:
        found = text.find(terminator, pos)
        stop = end_of_text if found < 0 else found
        chunk = text[pos:stop]
        body = chunk.strip(strip)
        if body:
            begin = pos + len(chunk) - len(chunk.lstrip(strip))
            parts = body.split(element)
            span = (begin, min(stop + 1, end_of_text))
            yield Segment(parts[0], tuple(parts[1:]), position, span)
            position += 1
        pos = stop + 1
