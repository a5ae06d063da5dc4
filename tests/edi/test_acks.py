"""997, 999 and TA1 acknowledgments: contents, envelopes, and that they read back."""

import datetime

import pytest

from apps.edi.x12 import (
    Separators,
    X12Error,
    ack_997,
    ack_999,
    ack_ta1,
    map_interchange,
    read_header,
    read_interchange,
)

from .conftest import PO_850, corpus_file, interchange_text

NOW = datetime.datetime(2024, 1, 6, 9, 15, tzinfo=datetime.UTC)
BAD_QUANTITY = [*PO_850[:8], "PO1*1*abc*BX*12.50**VP*GLV-100", *PO_850[9:]]


def inbound_group(*sets: list[str], **options):
    interchange = read_interchange(interchange_text(*sets, **options))
    map_interchange(interchange)
    return interchange.groups[0]


def read_ack(text: str):
    """The ack read back with our own reader: its interchange and its single set."""
    interchange = read_interchange(text)
    assert interchange.errors == []
    (tx,) = interchange.transaction_sets
    return interchange, tx


def contents(tx) -> list[tuple[str, ...]]:
    """The set's segments between ST and SE as (id, elements...) tuples."""
    return [(s.id, *s.elements) for s in tx.segments[1:-1]]


def test_997_accepted_group():
    group = inbound_group(PO_850)

    interchange, tx = read_ack(
        ack_997(group, interchange_control="000000123", group_control="123", now=NOW)
    )

    assert contents(tx) == [
        ("AK1", "PO", "42"),
        ("AK2", "850", "0001"),
        ("AK5", "A"),
        ("AK9", "A", "1", "1", "1"),
    ]
    assert tx.set_id == "997"
    # Addressed back to the sender, with the caller's control numbers.
    assert (interchange.sender_id, interchange.receiver_id) == ("ACMESUPPLY", "HOSPITALBUYER")
    assert interchange.control == "000000123"
    assert (interchange.date, interchange.time, interchange.usage) == ("240106", "0915", "T")
    (ack_group,) = interchange.groups
    assert (ack_group.functional_id, ack_group.control) == ("FA", "123")
    assert (ack_group.sender, ack_group.receiver) == ("ACMESUPPLY", "HOSPITALBUYER")


def test_997_partially_accepted_group_names_failing_segment_and_element():
    group = inbound_group(PO_850, PO_850, BAD_QUANTITY, se_counts={2: 3})

    _, tx = read_ack(ack_997(group, interchange_control="124", group_control="124", now=NOW))

    assert contents(tx) == [
        ("AK1", "PO", "42"),
        ("AK2", "850", "0001"),
        ("AK5", "A"),
        ("AK2", "850", "0002"),
        ("AK5", "R", "4"),  # SE01 does not count the segments
        ("AK2", "850", "0003"),
        ("AK3", "PO1", "10", "", "8"),  # segment has data element errors
        ("AK4", "2", "", "6", "abc"),  # PO102: invalid character, copy of the bad data
        ("AK5", "R", "5"),
        ("AK9", "P", "3", "3", "1"),
    ]


def test_997_rejected_group():
    group = inbound_group(BAD_QUANTITY, PO_850[1:])

    _, tx = read_ack(ack_997(group, interchange_control="125", group_control="125", now=NOW))

    segments = contents(tx)
    assert ("AK3", "BEG", "2", "", "3") in segments  # mandatory segment missing
    assert segments[-1] == ("AK9", "R", "2", "2", "0")


def test_997_group_trailer_error_rejects_the_group():
    group = inbound_group(PO_850, ge_count=2)

    _, tx = read_ack(ack_997(group, interchange_control="126", group_control="126", now=NOW))

    assert contents(tx)[-1] == ("AK9", "R", "2", "1", "1", "5")


def test_999_partially_accepted_group():
    group = inbound_group(PO_850, BAD_QUANTITY)

    interchange, tx = read_ack(
        ack_999(group, interchange_control="127", group_control="127", now=NOW)
    )

    assert (tx.set_id, tx.implementation, tx.version) == ("999", "005010X231A1", "005010X231A1")
    assert interchange.version == "00501"
    assert interchange.separators.repetition == "^"
    assert contents(tx) == [
        ("AK1", "PO", "42", "004010"),
        ("AK2", "850", "0001"),
        ("IK5", "A"),
        ("AK2", "850", "0002"),
        ("IK3", "PO1", "10", "", "8"),
        ("IK4", "2", "", "6", "abc"),
        ("IK5", "R", "5"),
        ("AK9", "P", "2", "2", "1"),
    ]


def test_999_for_a_corpus_invoice_group():
    interchange = read_interchange(corpus_file("810", "Example3_MultiInvoice.txt"))
    map_interchange(interchange)

    _, tx = read_ack(
        ack_999(interchange.groups[0], interchange_control="9", group_control="9", now=NOW)
    )

    assert contents(tx)[0] == ("AK1", "IN", "224", "004030")
    assert contents(tx)[-1] == ("AK9", "A", "2", "2", "2")


def test_ack_with_other_separators_reads_back():
    separators = Separators(element="|", component=">", repetition="^", segment="\n")
    text = ack_997(
        inbound_group(BAD_QUANTITY),
        interchange_control="128",
        group_control="128",
        now=NOW,
        separators=separators,
    )

    interchange, tx = read_ack(text)

    assert interchange.separators.element == "|"
    assert ("AK4", "2", "", "6", "abc") in contents(tx)


def test_ta1_rejects_an_interchange_with_mismatched_control_numbers():
    data = interchange_text(PO_850).replace("IEA*1*000000042", "IEA*1*000000043")
    with pytest.raises(X12Error) as caught:
        read_interchange(data)

    text = ack_ta1(read_header(data), error=caught.value, interchange_control="129", now=NOW)

    ack = read_interchange(text)
    assert ack.groups == []
    assert [s.elements for s in ack.ta1_segments] == [("000000042", "240105", "1230", "R", "001")]
    assert (ack.sender_id, ack.receiver_id, ack.control) == (
        "ACMESUPPLY",
        "HOSPITALBUYER",
        "000000129",
    )


@pytest.mark.parametrize(
    ("broken", "note"),
    [
        (lambda text: text.replace("IEA*1*000000042~\n", ""), "023"),  # no IEA
        (lambda text: text.replace("IEA*1*", "IEA*3*"), "021"),  # group count
        (lambda text: text.replace("GS*PO*", "REF*X*Y~\nGS*PO*"), "024"),  # stray segment
    ],
)
def test_ta1_note_codes_for_envelope_problems(broken, note):
    data = broken(interchange_text(PO_850))
    with pytest.raises(X12Error) as caught:
        read_interchange(data)

    text = ack_ta1(read_header(data), error=caught.value, interchange_control="130", now=NOW)

    (ta1,) = read_interchange(text).ta1_segments
    assert (ta1.get(4), ta1.get(5)) == ("R", note)


def test_ta1_accepts_a_good_interchange():
    header = read_header(interchange_text(PO_850))

    (ta1,) = read_interchange(ack_ta1(header, interchange_control="131", now=NOW)).ta1_segments

    assert (ta1.get(1), ta1.get(4), ta1.get(5)) == ("000000042", "A", "000")
