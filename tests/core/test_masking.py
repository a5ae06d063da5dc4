"""Patient identifiers are masked in payloads on screen; structure and business keys stay."""

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.core.masking import mask_payload

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"


def corpus(kind: str) -> list[Path]:
    folder = CORPUS / kind
    if not folder.is_dir():
        pytest.skip(f"{folder} is not present beside the repository")
    return sorted(folder.iterdir())


def segments(text: str, name: str, separator: str) -> list[list[str]]:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return [line.split(separator) for line in lines if line.startswith(name + separator)]


@pytest.mark.parametrize("kind", ["hl7v2/ADT_A01", "hl7v2/DFT_P03"])
def test_hl7_patient_fields_are_masked_and_the_rest_kept(kind):
    for path in corpus(kind):
        text = path.read_text(encoding="utf-8", errors="replace")
        masked = mask_payload(text, format="hl7v2")
        before, after = segments(text, "PID", "|"), segments(masked, "PID", "|")
        assert len(before) == len(after)
        for old, new in zip(before, after, strict=True):
            assert len(old) == len(new)  # every field still where it was
            for number in (3, 5, 7, 11, 13, 19):
                if number < len(old) and old[number]:
                    assert new[number] == "***", (path.name, number)
            assert new[8:9] == old[8:9]  # administrative sex is not an identifier
        assert segments(masked, "MSH", "|") == segments(text, "MSH", "|")
        assert segments(masked, "FT1", "|") == segments(text, "FT1", "|")  # the charges


def test_x12_claims_mask_patients_and_subscribers_not_providers_or_payers():
    paths = [p for p in corpus("x12/837") if p.name.endswith("ProfessionalClaim1.txt")]
    text = paths[0].read_text(encoding="utf-8", errors="replace")

    masked = mask_payload(text, format="x12")
    segs = [s.strip() for s in masked.split("~")]

    people = [s for s in segs if s.startswith(("NM1*IL", "NM1*QC"))]
    assert people
    assert all("MASKED" in s for s in people)
    assert all(s.split("*")[1:3] in (["IL", "1"], ["QC", "1"]) for s in people)
    assert any(s.startswith("NM1*85*2*BEN KILDARE SERVICE") for s in segs)  # the provider
    assert any(s.startswith("NM1*PR*2*KEY INSURANCE COMPANY") for s in segs)  # the payer
    dmg = [s for s in segs if s.startswith("DMG")]
    assert dmg
    assert all(set(s.split("*")[1:]) <= {"MASKED", ""} for s in dmg)
    assert masked.count("~") == text.count("~")  # the same segments


def test_json_person_values_are_masked_at_any_depth():
    text = json.dumps(
        {
            "po_number": "PO-1",
            "patient": {"mrn": "123", "name": "Jane Doe"},
            "lines": [{"item": "ITEM-1", "implanted_in": {"dob": "1970-01-01"}}],
            "subscriber_id": "S-9",
        }
    )

    masked = json.loads(mask_payload(text, format="json"))

    assert masked["po_number"] == "PO-1"
    assert masked["patient"] == {"mrn": "***", "name": "***"}
    assert masked["lines"][0]["item"] == "ITEM-1"
    assert masked["lines"][0]["implanted_in"]["dob"] == "***"
    assert masked["subscriber_id"] == "***"


@pytest.mark.parametrize("text", ["", "MSH", "ISA*00", "not json {", "\x00\x01binary"])
def test_anything_else_comes_back_unharmed(text):
    for kind in ("hl7v2", "x12", "json", "csv"):
        assert isinstance(mask_payload(text, format=kind), str)


@settings(max_examples=200, deadline=None)
@given(text=st.text(), kind=st.sampled_from(["hl7v2", "x12", "json", "csv"]))
def test_masking_never_fails_on_any_text(text, kind):
    for candidate in (text, "MSH|^~\\&|" + text, "ISA*" + text.ljust(120), "{" + text):
        assert isinstance(mask_payload(candidate, format=kind), str)
