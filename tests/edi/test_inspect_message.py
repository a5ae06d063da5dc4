"""``manage.py inspect_message``: format detection, output and exit status, no database."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from .conftest import PO_850, corpus_dir, interchange_text

ROOT = Path(__file__).resolve().parents[2]
GOOD_FILE = "github_Inteligenz_X12Par__From_aojuk.txt"


def run(*args: str) -> tuple[str, CommandError | None]:
    out = io.StringIO()
    try:
        call_command("inspect_message", *args, stdout=out)
    except CommandError as error:
        return out.getvalue(), error
    return out.getvalue(), None


def broken_file(tmp_path) -> Path:
    path = tmp_path / "broken-quantity.x12"
    body = [*PO_850[:8], "PO1*1*abc*BX*12.50**VP*GLV-100", *PO_850[9:]]
    path.write_text(interchange_text(body))
    return path


def test_good_corpus_file_prints_the_purchase_order_as_json():
    out, error = run(str(corpus_dir("850") / GOOD_FILE), "--json")

    assert error is None
    report = json.loads(out)
    (tx,) = report["interchanges"][0]["groups"][0]["sets"]
    assert tx["document_type"] == "p2p.purchase_order"
    assert tx["document"]["po_number"] == "6190"
    assert tx["document"]["total_amount"] == "229.98"
    assert tx["error"] is None


def test_text_output_shows_the_document_with_indent():
    out, error = run(str(corpus_dir("850") / GOOD_FILE))

    assert error is None
    assert "set 850 0083 (19 segments): p2p.purchase_order" in out
    assert '\n  "po_number": "6190",' in out


def test_broken_file_reports_the_coded_error_and_fails(tmp_path):
    out, error = run(str(broken_file(tmp_path)), "--json")

    assert error is not None
    assert "1 error(s)" in str(error)
    (tx,) = json.loads(out)["interchanges"][0]["groups"][0]["sets"]
    assert tx["error"] == {
        "code": "SCHEMA_INVALID",
        "message": "PO1 segment 10, element PO102: quantity 'abc' is not a number",
        "segment": "PO1",
        "position": 10,
        "element": "PO102",
        "level": "element",
        "syntax_code": "6",
    }


def test_envelope_error_is_reported(tmp_path):
    path = tmp_path / "bad-iea.x12"
    path.write_text(interchange_text(PO_850).replace("IEA*1*000000042", "IEA*1*000000043"))

    out, error = run(str(path))

    assert error is not None
    assert "error ENVELOPE_REJECTED segment=IEA position=" in out
    assert "element=IEA02" in out


def test_utf16_x12_is_detected(tmp_path):
    path = tmp_path / "po.x12"
    path.write_bytes(interchange_text(PO_850).encode("utf-16"))

    out, error = run(str(path), "--json")

    assert error is None
    assert json.loads(out)["format"] == "x12"


def test_json_object_is_validated_and_printed(tmp_path):
    path = tmp_path / "po.json"
    path.write_text('\ufeff  {"po_number": "PO-7", "lines": []}')

    out, error = run(str(path))

    assert error is None
    assert json.loads(out) == {"po_number": "PO-7", "lines": []}


@pytest.mark.parametrize(
    ("content", "fragment"),
    [("[1, 2]", "is a list, not an object"), ('{"a": ', "not valid JSON")],
)
def test_json_that_is_not_an_object_fails(tmp_path, content, fragment):
    path = tmp_path / "doc.json"
    path.write_text(content)

    out, error = run(str(path), "--format", "json", "--json")

    assert error is not None
    (problem,) = json.loads(out)["errors"]
    assert problem["code"] == "PARSE_ERROR"
    assert fragment in problem["message"]


def test_unknown_format_fails(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")

    _, error = run(str(path))

    assert error is not None
    assert "unknown format" in str(error)


def test_forced_x12_format_on_other_data_is_a_parse_error(tmp_path):
    path = tmp_path / "doc.json"
    path.write_text("{}")

    out, error = run(str(path), "--format", "x12", "--json")

    assert error is not None
    assert json.loads(out)["errors"][0]["code"] == "PARSE_ERROR"


def test_stdin_is_read_with_dash(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(interchange_text(PO_850)))

    out, error = run("-", "--json")

    assert error is None
    assert json.loads(out)["interchanges"][0]["control"] == "000000042"


def test_missing_file_fails_cleanly(tmp_path):
    _, error = run(str(tmp_path / "nope.x12"))

    assert error is not None
    assert "cannot read" in str(error)


def manage(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    # A database nobody listens on: the command must not need one.
    env = {**os.environ, "DATABASE_URL": "postgres://nobody@127.0.0.1:9/none"}
    return subprocess.run(
        [sys.executable, "manage.py", "inspect_message", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


def test_subprocess_exit_status_0_for_a_good_file():
    result = manage(str(corpus_dir("850") / GOOD_FILE), "--json")

    assert result.returncode == 0, result.stderr.decode()
    report = json.loads(result.stdout)
    assert report["interchanges"][0]["groups"][0]["sets"][0]["document"]["po_number"] == "6190"


def test_subprocess_exit_status_1_for_a_broken_file(tmp_path):
    result = manage(str(broken_file(tmp_path)))

    assert result.returncode == 1
    out = result.stdout.decode()
    assert "error SCHEMA_INVALID segment=PO1 position=10 element=PO102" in out
    assert "quantity 'abc' is not a number" in out
    assert "1 error(s)" in result.stderr.decode()


def test_subprocess_reads_stdin():
    result = manage("-", stdin=interchange_text(PO_850).encode("utf-16-le"))

    assert result.returncode == 0, result.stderr.decode()
    assert '"po_number": "PO-1001"' in result.stdout.decode()
