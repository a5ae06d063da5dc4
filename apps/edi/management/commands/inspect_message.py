"""Inspect a partner file: detect X12 or JSON, parse and validate it, show what it maps to.

For integration engineers at a terminal; needs no database. Exit status 1 when anything in
the file is rejected, so it can sit in scripts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.edi import x12
from apps.edi.x12 import Interchange, TransactionSet, X12Error

FORMATS = ("auto", "x12", "json")


class Command(BaseCommand):
    help = "Parse and validate an X12 or JSON file and print its canonical documents or errors."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="file to inspect, or - for standard input")
        parser.add_argument("--format", choices=FORMATS, default="auto", dest="input_format")
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="print one JSON report"
        )

    def handle(self, *args, file: str, input_format: str, as_json: bool, **options):
        data = _read(file)
        try:
            text = x12.decode_text(data)
        except X12Error as error:
            report = {"format": input_format, "errors": [error.to_dict()]}
        else:
            kind = input_format if input_format != "auto" else _detect(text)
            if kind == "x12":
                report = inspect_x12(data)
            elif kind == "json":
                report = inspect_json(text)
            else:
                raise CommandError(
                    f"{file}: unknown format (expected X12 starting with ISA, or a JSON object)"
                )
        self.stdout.write(json.dumps(report, indent=2) if as_json else _as_text(report))
        failures = _count_errors(report)
        if failures:
            raise CommandError(f"{file}: {failures} error(s)")


def _read(file: str) -> bytes | str:
    if file == "-":
        stream = getattr(sys.stdin, "buffer", sys.stdin)
        return stream.read()
    try:
        return Path(file).read_bytes()
    except OSError as error:
        raise CommandError(f"cannot read {file}: {error.strerror or error}") from None


def _detect(text: str) -> str:
    if text.startswith("ISA"):
        return "x12"
    if text.startswith(("{", "[")):
        return "json"
    return "unknown"


def inspect_json(text: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except ValueError as error:
        return {"format": "json", "errors": [_error("PARSE_ERROR", f"not valid JSON: {error}")]}
    if not isinstance(document, dict):
        problem = f"the JSON document is a {type(document).__name__}, not an object"
        return {"format": "json", "errors": [_error("PARSE_ERROR", problem)]}
    return {"format": "json", "errors": [], "document": document}


def _error(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "segment": "", "position": None, "element": ""}


def inspect_x12(data: bytes | str) -> dict[str, Any]:
    try:
        interchanges = x12.read_interchanges(data)
    except X12Error as error:
        return {"format": "x12", "errors": [error.to_dict()], "interchanges": []}
    for interchange in interchanges:
        x12.map_interchange(interchange)
    return {
        "format": "x12",
        "errors": [],
        "interchanges": [_describe(interchange) for interchange in interchanges],
    }


def _describe(interchange: Interchange) -> dict[str, Any]:
    return {
        "control": interchange.control,
        "sender": f"{interchange.sender_qualifier}/{interchange.sender_id}",
        "receiver": f"{interchange.receiver_qualifier}/{interchange.receiver_id}",
        "date": interchange.date,
        "time": interchange.time,
        "version": interchange.version,
        "usage": interchange.usage,
        "ta1": [list(segment.elements) for segment in interchange.ta1_segments],
        "groups": [
            {
                "functional_id": group.functional_id,
                "control": group.control,
                "sender": group.sender,
                "receiver": group.receiver,
                "version": group.version,
                "status": x12.group_status(group),
                "error": group.error.to_dict() if group.error else None,
                "sets": [_describe_set(tx) for tx in group.sets],
            }
            for group in interchange.groups
        ],
    }


def _describe_set(tx: TransactionSet) -> dict[str, Any]:
    document = tx.document
    return {
        "set_id": tx.set_id,
        "control": tx.control,
        "segments": len(tx.segments),
        "document_type": getattr(document, "document_type", None),
        "document": document.to_dict() if document is not None else None,
        "error": tx.error.to_dict() if tx.error else None,
    }


def _count_errors(report: dict[str, Any]) -> int:
    count = len(report["errors"])
    for interchange in report.get("interchanges", []):
        for group in interchange["groups"]:
            count += bool(group["error"]) + sum(bool(s["error"]) for s in group["sets"])
    return count


def _as_text(report: dict[str, Any]) -> str:
    lines: list[str] = [_error_text(error, "") for error in report["errors"]]
    if "document" in report:
        lines.append(json.dumps(report["document"], indent=2))
    for interchange in report.get("interchanges", []):
        lines.append(
            f"interchange {interchange['control']} from {interchange['sender']} to "
            f"{interchange['receiver']} ({interchange['date']} {interchange['time']}, "
            f"version {interchange['version']}, usage {interchange['usage']})"
        )
        for group in interchange["groups"]:
            lines.append(
                f"  group {group['control']} {group['functional_id']} {group['sender']} -> "
                f"{group['receiver']} version {group['version']}: status {group['status']}"
            )
            if group["error"]:
                lines.append(_error_text(group["error"], "    "))
            for tx in group["sets"]:
                lines.extend(_set_text(tx))
    return "\n".join(lines)


def _set_text(tx: dict[str, Any]) -> list[str]:
    heading = f"    set {tx['set_id']} {tx['control']} ({tx['segments']} segments)"
    if tx["error"]:
        return [f"{heading}: rejected", _error_text(tx["error"], "      ")]
    if tx["document"] is None:
        return [f"{heading}: envelope valid, no canonical map for {tx['set_id']}"]
    return [f"{heading}: {tx['document_type']}", json.dumps(tx["document"], indent=2)]


def _error_text(error: dict[str, Any], indent: str) -> str:
    return (
        f"{indent}error {error['code']} segment={error['segment'] or '-'} "
        f"position={error['position'] if error['position'] is not None else '-'} "
        f"element={error['element'] or '-'}\n{indent}  {error['message']}"
    )
