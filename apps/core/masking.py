"""Masking patient identifiers in payloads shown on screen (plain Python, no Django).

Even people allowed to read raw payloads see patients' names, identifiers, birth dates,
addresses and phone numbers masked: what they need to fix a message is its structure and its
business keys, not who the patient is. Masking keeps the message's shape (separators, segment
order, field positions) so a reader can still count fields.

- HL7 v2: PID, PD1, NK1, GT1 and IN1/IN2 person fields, and MRG prior identifiers.
- X12 (837/835 and others): NM1 names and ids of patients, subscribers and insured (entity
  codes QC, IL, 74), and the DMG, N3/N4 and PER segments that follow them in the same loop.
- JSON: values of keys that name a person or their identifiers (patient, mrn, ssn, dob, ...).
"""

import json
import re

MASK = "***"
# X12 delimiters are often "*": a mask made of letters cannot be mistaken for separators.
X12_MASK = "MASKED"

# HL7 v2: segment -> field numbers (1-based, MSH-style counting for other segments) to mask.
_HL7_FIELDS = {
    "PID": {2, 3, 4, 5, 6, 7, 9, 11, 12, 13, 14, 19, 20, 21},
    "PD1": {4},
    "NK1": {2, 4, 5, 6, 30, 31, 32, 33},
    "GT1": {2, 3, 4, 5, 6, 7, 8, 12, 19},
    "IN1": {16, 18, 19, 36, 49},
    "IN2": {1, 2, 6, 8},
    "MRG": {1, 2, 3, 4, 5, 6, 7},
}
# X12 entity identifier codes (NM101) of people whose loop is masked.
_X12_PEOPLE = {"QC", "IL", "74"}
_X12_LOOP_SEGMENTS = {"N3", "N4", "DMG", "PER", "REF"}
_JSON_KEYS = re.compile(
    r"(patient|member|subscriber|insured|guarantor|mrn|ssn|dob|birth|first_?name|last_?name|"
    r"full_?name|address|phone|email)",
    re.IGNORECASE,
)


def is_patient_path(path: str) -> bool:
    """Whether a dotted JSON path (``patient.mrn``, ``lines.0.sku``) names a person or their
    identifiers: such fields are shown masked and never edited on screen."""
    return any(_JSON_KEYS.search(part) for part in path.split("."))


def mask_payload(text: str, *, format: str) -> str:
    """``text`` with patient identifiers replaced by ``***`` (``MASKED`` in X12), by
    ``format``: hl7v2, x12, json; other text is returned as it is."""
    if format == "hl7v2" or text.lstrip().startswith("MSH"):
        return _mask_hl7(text)
    if format == "x12" or text.lstrip().startswith("ISA"):
        return _mask_x12(text)
    if format == "json":
        return _mask_json(text)
    return text


def _mask_hl7(text: str) -> str:
    if not text.lstrip().startswith("MSH") or len(text.lstrip()) < 8:
        return text
    start = text.index("MSH")
    field_separator = text[start + 3]
    # Segments end with CR (the standard), LF or CRLF; keep whichever the message used.
    parts = re.split(r"(\r\n|\r|\n)", text)
    out = []
    for part in parts:
        name = part[:3]
        fields = _HL7_FIELDS.get(name)
        if fields is None or len(part) < 4 or part[3] != field_separator:
            out.append(part)
            continue
        values = part.split(field_separator)
        for number in fields:
            if number < len(values) and values[number]:
                values[number] = MASK
        out.append(field_separator.join(values))
    return "".join(out)


def _mask_x12(text: str) -> str:
    body = text.lstrip("\ufeff \t\r\n")
    if not body.startswith("ISA") or len(body) < 106:
        return text
    element = body[3]
    terminator = body[105]
    segments = text.split(terminator)
    masking = False
    out = []
    for segment in segments:
        stripped = segment.lstrip()
        elements = stripped.split(element)
        name = elements[0]
        if name == "NM1":
            masking = len(elements) > 1 and elements[1] in _X12_PEOPLE
            if masking:
                # Keep the entity code and type qualifier; mask names and identifier.
                for index in (3, 4, 5, 6, 7, 9):
                    if index < len(elements) and elements[index]:
                        elements[index] = X12_MASK
        elif masking and name in _X12_LOOP_SEGMENTS:
            for index in range(2 if name in {"REF", "PER"} else 1, len(elements)):
                if elements[index]:
                    elements[index] = X12_MASK
        elif name not in _X12_LOOP_SEGMENTS:
            masking = False
        out.append(segment[: len(segment) - len(stripped)] + element.join(elements))
    return terminator.join(out)


def _mask_json(text: str) -> str:
    try:
        document = json.loads(text)
    except ValueError:
        return text
    return json.dumps(_mask_value(document), indent=2, ensure_ascii=False)


def _mask_value(value, masked: bool = False):
    if isinstance(value, dict):
        return {
            key: _mask_value(inner, masked or bool(_JSON_KEYS.search(str(key))))
            for key, inner in value.items()
        }
    if isinstance(value, list):
        return [_mask_value(inner, masked) for inner in value]
    if masked and value not in (None, ""):
        return MASK
    return value
