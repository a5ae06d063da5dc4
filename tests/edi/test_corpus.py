"""Real partner files: every one becomes canonical documents or a precise coded error."""

import datetime
from decimal import Decimal

import pytest

from apps.edi.x12 import (
    ENVELOPE_REJECTED,
    SCHEMA_INVALID,
    X12Error,
    map_interchange,
    read_interchange,
    read_interchanges,
)
from apps.p2p.canonical import Envelope, Invoice, POAcknowledgment, PurchaseOrder, ShipNotice

from .conftest import corpus_dir, corpus_file

D = Decimal


def documents(kind: str, name: str) -> list:
    """The document, or the X12Error, of each set in a corpus file."""
    interchange = read_interchange(corpus_file(kind, name))
    map_interchange(interchange)
    return [tx.document or tx.error for tx in interchange.transaction_sets]


def reconciles(document) -> bool:
    """Lines (price x quantity, plus or minus line allowances) and header allowances make
    the total."""
    lines = sum((line.extended_amount for line in document.lines), D(0))
    header = sum((ac.signed_amount for ac in document.allowances_charges), D(0))
    return lines + header == document.total_amount


def test_every_supply_chain_file_maps_or_fails_with_a_coded_error():
    seen = 0
    for kind in ("810", "850", "855", "856"):
        for path in sorted(corpus_dir(kind).iterdir()):
            interchange = read_interchange(path.read_bytes())
            for tx in map_interchange(interchange):
                seen += 1
                assert tx.set_id == kind
                if tx.error is not None:
                    assert tx.error.code == SCHEMA_INVALID
                    assert tx.error.segment
                    assert tx.error.element
                    assert tx.error.position
                else:
                    assert tx.document.envelope.set_control == tx.control
    assert seen == 14


# --- 810 --------------------------------------------------------------------------------------


def test_810_tempur_pedic_invoice():
    (invoice,) = documents("810", "2011110815164104.txt")

    assert isinstance(invoice, Invoice)
    assert (invoice.invoice_number, invoice.po_number) == ("3323399", "981903")
    assert invoice.invoice_date == datetime.date(2011, 10, 31)
    assert invoice.kind == "invoice"
    assert invoice.total_amount == D("56358.00")  # TDS*5635800: two implied decimals
    assert len(invoice.lines) == 7
    assert (invoice.lines[0].quantity, invoice.lines[0].unit) == (D(11), "EA")
    assert invoice.lines[0].unit_price == D(1305)
    assert invoice.lines[0].item.others == {"SK": "10190150", "VC": "10190150"}
    assert invoice.lines[6].allowances_charges[0].amount == D("0.00")
    ship_to, remit_to = invoice.parties
    assert (ship_to.role, ship_to.id_qualifier, ship_to.id_code) == ("ship_to", "92", "334")
    assert (ship_to.city, ship_to.state, ship_to.postal_code) == ("KENT", "WA", "98032")
    assert (remit_to.role, remit_to.name) == ("remit_to", "Tempur-Pedic")
    assert invoice.references[0].qualifier == "IA"
    assert invoice.envelope == Envelope(
        sender_id="XXXXXXXX4T",
        receiver_id="XXXXXXXXXFTP",
        interchange_control="810000163",
        group_control="163",
        set_control="0163",
        version="004010",
    )
    assert reconciles(invoice)


def test_810_california_iso_invoice_with_negative_prices():
    (invoice,) = documents("810", "Example1_CaliforniaISO.txt")

    assert invoice.invoice_number == "10429"
    assert invoice.total_amount == D("213516.63")
    assert len(invoice.lines) == 16
    assert invoice.lines[4].unit_price == D("-497.1")
    assert invoice.lines[0].description == "Day-Ahead Spinning Reserve due ISO"
    assert invoice.terms == "net due 1999-01-07"
    assert [p.role for p in invoice.parties] == ["bill_to", "remit_to"]
    assert reconciles(invoice)


def test_810_multi_invoice_gives_two_documents():
    first, second = documents("810", "Example3_MultiInvoice.txt")

    assert (first.invoice_number, second.invoice_number) == ("465266", "465267")
    assert (len(first.lines), len(second.lines)) == (4, 1)
    assert (first.total_amount, second.total_amount) == (D("8432.02"), D("1129.92"))
    assert first.terms == "1% discount within 15 days, net 30 days"
    # IT101 is absent in this file: lines are numbered by position.
    assert [line.line_number for line in first.lines] == ["1", "2", "3", "4"]
    assert first.lines[0].allowances_charges[0].amount == D("58.87")
    assert first.envelope.version == "004030"
    assert [p.role for p in first.parties] == ["supplier", "bill_to", "ship_to"]
    assert reconciles(first)
    assert reconciles(second)


def test_810_walmart_invoice_with_carriage_return_terminator():
    (invoice,) = documents("810", "Example5_Walmart.txt")

    assert (invoice.invoice_number, invoice.po_number) == ("6463367", "3376103367")
    assert invoice.total_amount == D("3875.30")
    (line,) = invoice.lines
    assert line.item.buyer_part == "001719653"
    assert line.item.gtin == "00221089552284"  # trailing space before the terminator dropped
    assert line.item.others == {"UP": "022108955228"}
    assert line.allowances_charges[0].indicator == "A"
    assert line.allowances_charges[0].amount == D("23.50")
    assert invoice.terms == "net 45 days"
    assert invoice.parties[1].postal_code == "72712"
    assert reconciles(invoice)


# --- 850 --------------------------------------------------------------------------------------


def test_850_pgw_glass_with_pipe_terminator():
    (order,) = documents("850", "Example1_PGWGlass.txt")

    assert isinstance(order, PurchaseOrder)
    assert (order.po_number, order.purpose, order.order_type) == ("S41000439", "replace", "SA")
    assert order.po_date == datetime.date(2010, 8, 10)
    assert order.currency == "USD"
    assert order.total_amount == D("884.06")
    assert len(order.lines) == 4
    assert order.lines[0].item.buyer_part == "0459001004"
    assert order.lines[1].description == "LAMP, MAXLITE 35873, 200W,"
    ship_to = next(p for p in order.parties if p.role == "ship_to")
    assert (ship_to.code, ship_to.postal_code) == ("W_341001", "40403")
    assert reconciles(order)


def test_850_adobe_with_tilde_element_separator():
    (order,) = documents("850", "Example2_Adobe_TLP.txt")

    assert (order.po_number, order.purpose, order.order_type) == ("TLP-X12", "original", "NE")
    assert order.dates == {"010": datetime.date(2010, 6, 14)}
    assert [r.qualifier for r in order.references][:3] == ["CT", "DC", "EU"]
    (line,) = order.lines
    assert (line.quantity, line.unit_price) == (D(1), D(665))
    assert line.item.buyer_part == "12345678"
    assert line.item.others == {"MG": "64113730AD01A00"}
    assert [p.role for p in order.parties] == [
        "buyer",
        "PO",
        "bill_to",
        "DU",
        "EN",
        "IA",
        "ship_to",
    ]
    assert order.parties[-1].address == ["ShipTo NameII", "123 MAIN STREET"]
    assert order.total_amount == D(12)  # as sent, although the line is 665


def test_850_aojuk():
    (order,) = documents("850", "From_aojuk.txt")

    assert order.po_number == "6190"
    assert [line.line_number for line in order.lines] == ["6917", "6915"]
    assert [line.item.vendor_part for line in order.lines] == ["123456", "654321"]
    assert order.lines[0].unit == "PK"
    assert order.total_amount == D("229.98")
    assert reconciles(order)


# --- 855 --------------------------------------------------------------------------------------


def test_855_two_acknowledgments():
    first, second = documents("855", "855SSimmons.txt")

    assert isinstance(first, POAcknowledgment)
    assert (first.po_number, first.status, first.ack_type) == ("7542", "accepted", "AD")
    assert (first.ack_number, first.ack_date) == ("83517234", datetime.date(2011, 9, 28))
    assert [line.line_number for line in first.lines] == ["100", "200"]
    assert {line.status for line in first.lines} == {"accepted"}
    assert first.lines[1].unit_price == D(23500)
    assert (second.po_number, len(second.lines)) == ("99035", 1)


# --- 856 --------------------------------------------------------------------------------------


def test_856_example1_with_star_terminator():
    (notice,) = documents("856", "Example1.txt")

    assert isinstance(notice, ShipNotice)
    assert notice.shipment_id == "123456"
    assert notice.ship_date == datetime.date(2001, 4, 20)
    assert notice.expected_date == datetime.date(2001, 4, 22)
    assert notice.po_numbers == ["123456"]
    assert [(line.line_number, line.quantity, line.unit) for line in notice.lines] == [
        ("001", D(16), "PC"),
        ("002", D(23), "LB"),
        ("004", D(16), "PC"),
    ]
    assert {line.po_number for line in notice.lines} == {"123456"}
    assert notice.lines[0].item.others == {"CB": "1234-123456"}


def test_856_example2_without_shipment_id_is_rejected():
    (error,) = documents("856", "Example2.txt")

    assert isinstance(error, X12Error)
    assert error.code == SCHEMA_INVALID
    assert (error.segment, error.position, error.element) == ("BSN", 2, "BSN02")
    assert error.message == "BSN segment 2, element BSN02: shipment id is missing"


def test_856_gregarican_with_pack_level():
    (notice,) = documents("856", "FromGregarican.txt")

    assert notice.shipment_id == "521649209219"
    assert (notice.carrier, notice.tracking_number) == ("FED2", "521649209219")
    assert notice.po_numbers == ["SO/VINCE1"]
    (line,) = notice.lines
    assert (line.po_number, line.quantity, line.unit) == ("SO/VINCE1", D(1), "EA")
    assert line.description == "16X12MM SMALL WHEATON"
    assert "buyer" in [p.role for p in notice.parties]


def test_856_edi_source_with_dash_repetition_separator():
    (notice,) = documents("856", "edi1Source.txt")

    assert notice.shipment_id == "829716"
    assert notice.tracking_number == "5787970539"  # CN wins over the bill of lading
    assert ("BM", "999999-001") in [(r.qualifier, r.value) for r in notice.references]
    assert [line.item.vendor_part for line in notice.lines] == ["87787D", "99887D"]
    assert [line.quantity for line in notice.lines] == [D(24), D(6)]
    assert notice.envelope.version == "004060"


# --- other kinds: the reader only --------------------------------------------------------------


def envelope_problem(data: bytes) -> X12Error | None:
    """The X12Error reading ``data`` raises, if any (anything else fails the test)."""
    try:
        interchanges = read_interchanges(data)
    except X12Error as error:
        return error
    assert interchanges
    return None


@pytest.mark.parametrize("kind", ["999", "TA1", "835", "837"])
def test_reader_reads_or_rejects_every_envelope(kind):
    read, rejected = 0, 0
    for path in sorted(corpus_dir(kind).iterdir()):
        error = envelope_problem(path.read_bytes())
        if error is None:
            read += 1
        else:
            assert error.code == ENVELOPE_REJECTED, path.name
            assert error.segment, path.name
            rejected += 1
    assert read > rejected


def test_999_sample_contents():
    interchange = read_interchange(corpus_file("999", "DHS_Wisconsin_Sample.txt"))

    (tx,) = interchange.transaction_sets
    assert (tx.set_id, tx.implementation, tx.error) == ("999", "005010X231", None)
    ik5 = [s.elements for s in tx.segments if s.id == "IK5"]
    assert ik5 == [("A",), ("R", "5"), ("R", "5")]


def test_ta1_samples_keep_their_ta1_segments():
    first = read_interchange(corpus_file("TA1", "TechnicalAcknowledgment_Sample1.txt"))
    second = read_interchange(corpus_file("TA1", "TechnicalAcknowledgment_SampleFromJeffN825.txt"))

    assert [s.get(4) for s in first.ta1_segments] == ["A", "A"]
    assert second.separators.element == ">"
    assert [(s.get(4), s.get(5)) for s in second.ta1_segments] == [("R", "006")]


def test_835_with_three_interchanges():
    interchanges = read_interchanges(corpus_file("835", "835_WithMultipleInterchanges.txt"))

    assert [i.control for i in interchanges] == ["000000031", "000000032", "000000033"]
    assert all(i.errors == [] for i in interchanges)


def test_837_known_broken_files_fail_precisely():
    folder = corpus_dir("837")

    with pytest.raises(X12Error) as no_iea:
        read_interchanges((folder / "github_azoner_pyx12_8893__fail_no_IEA.txt").read_bytes())
    with pytest.raises(X12Error) as bad_count:
        read_interchanges((folder / "github_azoner_pyx12_8893__trailer_errors.txt").read_bytes())

    assert no_iea.value.segment == "IEA"
    assert (bad_count.value.element, bad_count.value.syntax_code) == ("IEA01", "021")
