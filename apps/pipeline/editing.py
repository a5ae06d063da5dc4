"""Field-level editing of a JSON message (edit-and-replay), without Django.

A message is shown as its leaf fields, each named by a dotted path (``lines.0.unit_price``).
A person changes values as text; each is read back as the type the field had (a number stays a
number), and the changes come back as a diff of before and after.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_FIELDS = 2000  # a message larger than this is corrected at its source, not field by field
_NUMBER = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?")


class EditError(ValueError):
    """A message that cannot be edited, or a value that does not fit its field."""


@dataclass(frozen=True)
class MessageField:
    path: str
    value: Any
    kind: str  # string, number, boolean or null

    @property
    def text(self) -> str:
        """The value as a person edits it."""
        if self.kind == "boolean":
            return "true" if self.value else "false"
        if self.kind == "null":
            return ""
        return str(self.value)


@dataclass(frozen=True)
class Change:
    path: str
    before: Any
    after: Any

    def as_dict(self) -> dict:
        return {"path": self.path, "before": self.before, "after": self.after}


def document_of(body: bytes) -> dict:
    """The JSON object a message holds, or EditError if it is not one (X12, HL7, CSV...)."""
    try:
        if body.startswith(b"\xef\xbb\xbf"):
            body = body[3:]
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise EditError(
            "Only JSON messages can be edited field by field; correct this one at its source "
            "(or fix the master data) and replay it."
        ) from None
    if not isinstance(document, dict):
        raise EditError("Only a JSON object can be edited field by field.")
    return document


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string"


def fields_of(document: dict) -> list[MessageField]:
    """Every leaf of the document in order, named by its dotted path."""
    found: list[MessageField] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else str(key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{path}.{index}" if path else str(index))
        else:
            if len(found) >= MAX_FIELDS:
                raise EditError(
                    f"This message has more than {MAX_FIELDS} fields; correct it at its source."
                )
            found.append(MessageField(path, value, _kind(value)))

    walk(document, "")
    return found


def _read(field: MessageField, text: str) -> Any:
    """The text a person typed, as the type of ``field``."""
    text = text.strip() if field.kind != "string" else text
    if field.kind == "number":
        if not _NUMBER.fullmatch(text):
            raise EditError(f"{field.path}: {text!r} is not a number.")
        return int(text) if re.fullmatch(r"-?\d+", text) else float(text)
    if field.kind == "boolean":
        if text.lower() not in {"true", "false"}:
            raise EditError(f"{field.path}: write true or false.")
        return text.lower() == "true"
    if field.kind == "null":
        return None if text == "" else text
    return text


def _set(document: Any, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    target = document
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value


def apply_changes(
    document: dict, values: dict[str, str], *, protected: Callable[[str], bool] = lambda _: False
) -> tuple[dict, list[Change]]:
    """A copy of ``document`` with ``values`` ({path: text}) applied, and what changed.

    Paths that are not leaves of the document are refused: an edit corrects values, it does
    not add or remove fields or lines. Fields ``protected`` says may not be edited (a
    patient's identifiers) are refused when their value would change.
    """
    fields = {field.path: field for field in fields_of(document)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise EditError(f"No such field: {', '.join(unknown[:5])}.")
    edited = json.loads(json.dumps(document))
    changes = []
    for path, field in fields.items():
        if path not in values:
            continue
        after = _read(field, values[path])
        if after != field.value and protected(path):
            raise EditError(f"{path} identifies a person and cannot be edited here.")
        if after != field.value:
            _set(edited, path, after)
            changes.append(Change(path, field.value, after))
    return edited, changes


def encode(document: dict) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
