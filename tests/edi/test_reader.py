"""Reading messy interchanges: encodings, separators, whitespace, and every envelope error."""

import codecs
import datetime

import pytest

from apps.edi.x12 import (
    ENVELOPE_REJECTED,
    PARSE_ERROR,
    SCHEMA_INVALID,
    X12Error,
    read_header,
    read_interchange,
    read_interchanges,
    to_canonical,
)

from .conftest import ISA, PO_850, interchange_text, with_separators


def po_number(data) -> str:
    interchange = read_interchange(data)
    (tx,) = interchange.transaction_sets
    return to_canonical(tx).po_number


def test_read_interchange_exposes_envelope_fields():
    interchange = read_interchange(interchange_text(PO_850))

    assert interchange.sender_qualifier == "ZZ"
    assert interchange.sender_id == "HOSPITALBUYER"
    assert interchange.receiver_id == "ACMESUPPLY"
    assert interchange.control == "000000042"
    assert (interchange.date, interchange.time) == ("240105", "1230")
    assert interchange.sent_at == datetime.datetime(2024, 1, 5, 12, 30)
    assert interchange.usage == "T"
    assert interchange.version == "00401"
    assert interchange.separators.repetition == ""  # ISA11 is "U" before 00402
    (group,) = interchange.groups
    assert (group.functional_id, group.control, group.version) == ("PO", "42", "004010")
    assert (group.sender, group.receiver) == ("HOSPITALBUYER", "ACMESUPPLY")
    (tx,) = group.sets
    assert (tx.set_id, tx.control, tx.version) == ("850", "0001", "004010")
    assert (tx.sender, tx.receiver) == ("HOSPITALBUYER", "ACMESUPPLY")
    assert tx.segments[0].id == "ST"
    assert tx.segments[-1].id == "SE"
    assert [s.position for s in tx.segments] == list(range(1, len(PO_850) + 3))
    assert interchange.errors == []


def test_raw_text_of_each_set_runs_from_st_to_se():
    text = interchange_text(PO_850, PO_850)

    first, second = read_interchange(text).transaction_sets

    assert first.raw.startswith("ST*850*0001~")
    assert first.raw.endswith("SE*15*0001~")
    assert second.raw.startswith("ST*850*0002~")
    assert second.raw.endswith("SE*15*0002~")
    assert first.raw in text
    assert "BEG*00*SA*PO-1001**20240105~" in first.raw


def test_utf8_bom_is_ignored():
    assert po_number(codecs.BOM_UTF8 + interchange_text(PO_850).encode()) == "PO-1001"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_and_without_bom_is_read(encoding):
    data = interchange_text(PO_850).encode(encoding)
    if encoding == "utf-16":
        assert data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    else:
        assert data[:2] not in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)

    assert po_number(data) == "PO-1001"


def test_utf16_with_explicit_big_endian_bom_is_read():
    data = codecs.BOM_UTF16_BE + interchange_text(PO_850).encode("utf-16-be")

    assert po_number(data) == "PO-1001"


def test_broken_utf16_is_a_parse_error():
    data = codecs.BOM_UTF16_LE + "ISA*00".encode("utf-16-le") + b"\x00\xd8"  # lone surrogate

    with pytest.raises(X12Error) as caught:
        read_interchange(data)

    assert caught.value.code == PARSE_ERROR
    assert "UTF-16" in caught.value.message


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r", "\r\n    ", "\n\t\t", ""])
def test_line_ends_and_indentation_between_segments_are_ignored(newline):
    text = interchange_text(PO_850).replace("~\n", "~" + newline)

    assert po_number(text) == "PO-1001"


def test_newline_as_segment_terminator_with_crlf_files():
    text = with_separators(interchange_text(PO_850), "*", ":", "\n").replace("\n", "\r\n")

    interchange = read_interchange(text)

    assert interchange.separators.segment == "\r"  # the character after ISA16
    assert to_canonical(interchange.transaction_sets[0]).po_number == "PO-1001"


@pytest.mark.parametrize(
    ("element", "component", "terminator"),
    [("|", "^", "~"), ("*", ":", "\n"), ("!", ">", "'"), ("^", "}", "|"), ("~", ">", "\r")],
)
def test_separators_declared_by_isa_are_used(element, component, terminator):
    text = with_separators(interchange_text(PO_850), element, component, terminator)

    interchange = read_interchange(text)

    separators = interchange.separators
    assert (separators.element, separators.component) == (element, component)
    assert separators.segment == terminator
    order = to_canonical(interchange.transaction_sets[0])
    assert order.po_number == "PO-1001"
    assert order.lines[0].item.vendor_part == "GLV-100"


def test_repetition_separator_is_isa11_from_00402_on():
    isa = ISA.replace("*U*00401*", "*^*00501*")

    interchange = read_interchange(interchange_text(PO_850, isa=isa))

    assert interchange.separators.repetition == "^"
    assert interchange.version == "00501"


def test_trailing_garbage_and_whitespace_after_iea_are_ignored():
    text = interchange_text(PO_850) + "\n\n   \x1a garbage from the modem\n"

    interchange = read_interchange(text)

    assert interchange.trailing.startswith("\x1a garbage")
    assert len(interchange.transaction_sets) == 1


def test_last_segment_without_terminator_is_accepted():
    text = interchange_text(PO_850).rstrip().removesuffix("~")

    assert read_interchange(text).control == "000000042"


def test_several_interchanges_in_one_file():
    second = interchange_text(PO_850, interchange_control="000000043").replace(
        "*000000042*", "*000000043*"
    )
    text = interchange_text(PO_850) + second

    first, other = read_interchanges(text)

    assert (first.control, other.control) == ("000000042", "000000043")
    with pytest.raises(X12Error) as caught:
        read_interchange(text)
    assert "2 interchanges" in caught.value.message


def test_bytes_and_str_give_the_same_result():
    text = interchange_text(PO_850)

    assert po_number(text) == po_number(text.encode()) == po_number(bytearray(text.encode()))


def test_latin1_bytes_are_read():
    body = [*PO_850[:4], "N1*BY*Hôpital Saint-Éloi*92*HSE", *PO_850[7:]]
    data = interchange_text(body).encode("latin-1")

    (tx,) = read_interchange(data).transaction_sets

    assert to_canonical(tx).parties[0].name == "Hôpital Saint-Éloi"


# --- envelope errors -------------------------------------------------------------------------


def envelope_error(data) -> X12Error:
    with pytest.raises(X12Error) as caught:
        read_interchange(data)
    return caught.value


@pytest.mark.parametrize("data", [b"", b"   \n", b"hello world", b"GS*PO*A*B~", "\ufeff{}"])
def test_data_without_isa_is_a_parse_error(data):
    error = envelope_error(data)

    assert error.code == PARSE_ERROR
    assert "no ISA segment" in error.message


def test_truncated_isa_is_rejected():
    error = envelope_error(ISA[:80])

    assert error.code == ENVELOPE_REJECTED
    assert (error.segment, error.position, error.syntax_code) == ("ISA", 1, "023")
    assert "80 of 106 characters" in error.message


def test_missing_iea_is_rejected():
    text = interchange_text(PO_850).replace("IEA*1*000000042~\n", "")

    error = envelope_error(text)

    assert error.code == ENVELOPE_REJECTED
    assert error.segment == "IEA"
    assert error.message == "IEA segment: the interchange ends without an IEA trailer"


def test_iea02_different_from_isa13_is_rejected():
    text = interchange_text(PO_850).replace("IEA*1*000000042", "IEA*1*000000043")

    error = envelope_error(text)

    assert error.code == ENVELOPE_REJECTED
    assert (error.segment, error.element, error.syntax_code) == ("IEA", "IEA02", "001")
    assert error.position == len(PO_850) + 6  # ISA GS ST ... SE GE IEA
    assert "'000000043' does not match ISA13 '000000042'" in error.message


def test_iea01_group_count_mismatch_is_rejected():
    text = interchange_text(PO_850).replace("IEA*1*", "IEA*2*")

    error = envelope_error(text)

    assert (error.code, error.element, error.syntax_code) == (ENVELOPE_REJECTED, "IEA01", "021")


@pytest.mark.parametrize(
    ("original", "broken", "note", "element"),
    [
        ("*000000042*0*T*", "*00000004X*0*T*", "018", "ISA13"),
        ("*240105*1230*", "*2401XX*1230*", "014", "ISA09"),
        ("*0*T*:", "*0*X*:", "020", "ISA15"),
    ],
)
def test_invalid_isa_fields_are_rejected(original, broken, note, element):
    text = interchange_text(PO_850).replace(original, broken, 1)

    error = envelope_error(text)

    assert (error.code, error.syntax_code, error.element) == (ENVELOPE_REJECTED, note, element)


def test_letter_as_element_separator_is_rejected():
    text = "ISAX" + interchange_text(PO_850)[4:]

    error = envelope_error(text)

    assert error.code == ENVELOPE_REJECTED


def test_wrong_se01_rejects_only_that_set():
    text = interchange_text(PO_850, PO_850, se_counts={1: 99})

    first, second = read_interchange(text).transaction_sets

    assert first.error is not None
    assert second.error is None
    assert first.error.code == SCHEMA_INVALID
    assert (first.error.segment, first.error.element, first.error.syntax_code) == (
        "SE",
        "SE01",
        "4",
    )
    assert first.error.position == len(PO_850) + 2
    assert first.error.message == (
        "SE segment 15, element SE01: SE01 says '99' segments, the set has 15 (ST to SE)"
    )
    assert to_canonical(second).po_number == "PO-1001"


@pytest.mark.parametrize("count", ["\u00b2", "\u0661\u0665", "-15", "15.0", ""])
def test_se01_must_be_plain_digits(count):
    text = interchange_text(PO_850).replace("SE*15*", f"SE*{count}*")

    (tx,) = read_interchange(text).transaction_sets

    assert (tx.error.element, tx.error.syntax_code) == ("SE01", "4")


def test_se02_different_from_st02_rejects_the_set():
    text = interchange_text(PO_850).replace("SE*15*0001", "SE*15*0009")

    (tx,) = read_interchange(text).transaction_sets

    assert (tx.error.element, tx.error.syntax_code) == ("SE02", "3")


def test_missing_se_rejects_the_set_and_keeps_the_next():
    text = interchange_text(PO_850, PO_850).replace("SE*15*0001~\n", "", 1)

    first, second = read_interchange(text).transaction_sets

    assert (first.error.segment, first.error.syntax_code) == ("SE", "2")
    assert "SE trailer missing" in first.error.message
    assert second.error is None


def test_wrong_ge01_is_a_group_error():
    text = interchange_text(PO_850, ge_count=3)

    interchange = read_interchange(text)

    (group,) = interchange.groups
    assert group.error.code == ENVELOPE_REJECTED
    assert (group.error.element, group.error.syntax_code) == ("GE01", "5")
    assert group.error.message == (
        f"GE segment {len(PO_850) + 5}, element GE01: GE01 says '3' transaction sets, "
        "the group has 1"
    )
    assert group.sets[0].error is None
    assert interchange.errors == [group.error]


def test_ge02_different_from_gs06_is_a_group_error():
    text = interchange_text(PO_850).replace("GE*1*42", "GE*1*43")

    (group,) = read_interchange(text).groups

    assert (group.error.element, group.error.syntax_code) == ("GE02", "4")


def test_missing_ge_is_a_group_error():
    text = interchange_text(PO_850).replace("GE*1*42~\n", "")

    (group,) = read_interchange(text).groups

    assert (group.error.segment, group.error.syntax_code) == ("GE", "3")


def test_st_outside_a_group_is_rejected():
    text = interchange_text(PO_850).replace("GS*PO*", "XX*PO*").replace("GE*1*42~\n", "")

    error = envelope_error(text)

    assert error.code == ENVELOPE_REJECTED


def test_garbage_segment_id_inside_a_set_is_a_segment_error():
    body = [*PO_850[:3], "beg&*1", *PO_850[3:]]

    (tx,) = read_interchange(interchange_text(body)).transaction_sets

    assert (tx.error.segment, tx.error.position, tx.error.syntax_code) == ("beg&", 5, "1")


def test_duplicate_set_control_number_rejects_the_second_set():
    text = interchange_text(PO_850, PO_850).replace("0002", "0001")

    first, second = read_interchange(text).transaction_sets

    assert first.error is None
    assert (second.error.element, second.error.syntax_code) == ("ST02", "23")


def test_read_header_reads_only_the_isa():
    text = interchange_text(PO_850).replace("IEA*1*000000042", "IEA*1*000000099")

    header = read_header(text)

    assert (header.sender_id, header.receiver_id, header.control) == (
        "HOSPITALBUYER",
        "ACMESUPPLY",
        "000000042",
    )


def test_x12_error_to_dict_names_code_and_place():
    error = envelope_error(interchange_text(PO_850).replace("IEA*1*000000042", "IEA*1*7"))

    assert error.to_dict() == {
        "code": "ENVELOPE_REJECTED",
        "message": error.message,
        "segment": "IEA",
        "position": len(PO_850) + 6,
        "element": "IEA02",
        "level": "interchange",
        "syntax_code": "001",
    }
