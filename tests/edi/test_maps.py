"""Maps from 850/855/856/810 to canonical documents, and their coded content errors."""

import datetime
from decimal import Decimal

import pytest

from apps.edi.x12 import SCHEMA_INVALID, X12Error, map_interchange, read_interchange, to_canonical
from apps.p2p.canonical import AllowanceCharge, ItemIds, Party

from .conftest import PO_850, interchange_text

D = Decimal


def mapped(body: list[str], set_id: str = "850"):
    (tx,) = read_interchange(interchange_text(body, set_id=set_id)).transaction_sets
    return to_canonical(tx)


def content_error(body: list[str], set_id: str = "850") -> X12Error:
    with pytest.raises(X12Error) as caught:
        mapped(body, set_id)
    assert caught.value.code == SCHEMA_INVALID
    return caught.value


# --- 850 --------------------------------------------------------------------------------------


def test_850_header_parties_lines_and_total():
    order = mapped(PO_850)

    assert (order.po_number, order.po_date) == ("PO-1001", datetime.date(2024, 1, 5))
    assert (order.purpose, order.order_type, order.currency) == ("original", "SA", "USD")
    assert order.dates == {"002": datetime.date(2024, 1, 10)}
    assert [(r.qualifier, r.value) for r in order.references] == [("DP", "ICU")]
    assert order.parties == [
        Party(
            role="buyer",
            name="St Mary Hospital",
            code="SMH",  # 92: assigned by the buyer, who sends the 850
            id_qualifier="92",
            id_code="SMH",
            address=["1 Main St", "Building B"],
            city="Springfield",
            state="IL",
            postal_code="62701",
            country="US",
        ),
        Party(role="supplier", name="Acme Medical", id_qualifier="91", id_code="ACME"),
    ]
    first, second = order.lines
    assert first.item == ItemIds(vendor_part="GLV-100", buyer_part="H-200", gtin="00012345678905")
    assert (first.quantity, first.unit, first.unit_price) == (D(10), "BX", D("12.50"))
    assert first.description == "Nitrile gloves, medium"
    assert second.item == ItemIds(vendor_part="SYR-5", others={"UP": "012345678905"})
    assert order.total_amount == D("424.97")


def test_850_price_from_ctp_when_po104_is_empty():
    body = ["BEG*00*SA*PO-2**20240105", "PO1*1*2*EA***VP*A", "CTP**CON*4.25", "CTT*1"]

    (line,) = mapped(body).lines

    assert line.unit_price == D("4.25")


def test_850_header_and_line_allowances_and_yymmdd_dates():
    body = [
        "BEG*04*SA*PO-3**240105",
        "SAC*C*D240***1500**********Freight",
        "DTM*002*991231",
        "PO1**2*EA*10**VP*A",
        "SAC*A*C310***250",
        "CTT*1",
    ]

    order = mapped(body)

    assert order.purpose == "change"
    assert order.po_date == datetime.date(2024, 1, 5)
    assert order.dates["002"] == datetime.date(1999, 12, 31)
    assert order.allowances_charges == [
        AllowanceCharge(indicator="C", amount=D("15.00"), code="D240", description="Freight")
    ]
    (line,) = order.lines
    assert line.line_number == "1"
    assert line.extended_amount == D("17.50")


def test_850_non_numeric_quantity_names_segment_and_element():
    body = [*PO_850[:8], "PO1*1*abc*BX*12.50**VP*GLV-100", *PO_850[9:]]

    error = content_error(body)

    assert (error.segment, error.position, error.element) == ("PO1", 10, "PO102")
    assert error.message == "PO1 segment 10, element PO102: quantity 'abc' is not a number"
    assert (error.level, error.syntax_code, error.value) == ("element", "6", "abc")


def test_850_without_beg_is_rejected():
    error = content_error(PO_850[1:])

    assert (error.segment, error.level, error.syntax_code) == ("BEG", "segment", "3")
    assert "mandatory BEG" in error.message


@pytest.mark.parametrize(
    ("segment", "element", "fragment"),
    [
        ("BEG*00*SA***20240105", "BEG03", "purchase order number is missing"),
        ("BEG*00*SA*PO-1**20241305", "BEG05", "'20241305' is not a date"),
        ("BEG*09*SA*PO-1**20240105", "BEG01", "transaction set purpose '09' is not one of"),
    ],
)
def test_850_invalid_beg(segment, element, fragment):
    error = content_error([segment, *PO_850[1:]])

    assert error.element == element
    assert fragment in error.message


def test_850_ctt_must_count_the_lines():
    body = [*PO_850[:-2], "CTT*3", PO_850[-1]]

    error = content_error(body)

    assert (error.element, error.message) == (
        "CTT01",
        "CTT segment 13, element CTT01: CTT01 says 3 line items, the set has 2",
    )


def test_850_product_id_without_qualifier_is_rejected():
    error = content_error(["BEG*00*SA*PO-1**20240105", "PO1*1*1*EA*1***ABC"])

    assert (error.element, error.syntax_code) == ("PO106", "2")


# --- 855 --------------------------------------------------------------------------------------

ACK_855 = [
    "BAK*00*AC*PO-1001*20240105****SO-77*20240106",
    "N1*SU*Acme Medical*91*ACME",
    "PO1*1*10*BX*12.50**VP*GLV-100",
    "ACK*IA*10*BX",
    "PO1*2*3*EA*95.00**VP*SYR-5",
    "ACK*IP*3*EA",
    "PO1*3*5*EA*5**VP*TUBE",
    "ACK*IQ*2*CA",
    "PO1*4*1*EA*5**VP*X",
    "ACK*R2*1*EA",
    "PO1*5*5*EA*5**VP*Y",
    "ACK*IB*5*EA",
    "CTT*5",
]


def test_855_line_statuses_and_changed_quantities():
    ack = mapped(ACK_855, "855")

    assert (ack.po_number, ack.ack_type, ack.status) == ("PO-1001", "AC", "changed")
    assert (ack.ack_number, ack.ack_date) == ("SO-77", datetime.date(2024, 1, 6))
    assert [line.status for line in ack.lines] == [
        "accepted",
        "changed",
        "changed",
        "rejected",
        "backordered",
    ]
    assert ack.lines[1].unit_price == D("95.00")
    assert (ack.lines[2].quantity, ack.lines[2].unit) == (D(2), "CA")
    assert ack.parties[0].code == "ACME"  # 91: assigned by the seller, who sends the 855


def test_855_accepted_when_every_line_is_accepted():
    body = [ACK_855[0], *ACK_855[2:4], "CTT*1"]

    assert mapped(body, "855").status == "accepted"


@pytest.mark.parametrize("ack_type", ["RD", "RJ"])
def test_855_rejected(ack_type):
    body = [f"BAK*00*{ack_type}*PO-1001*20240105", "PO1*1*10*BX*12.50**VP*GLV-100"]

    ack = mapped(body, "855")

    assert ack.status == "rejected"
    assert ack.lines[0].status == "rejected"


def test_855_split_line_is_changed():
    body = [ACK_855[0], ACK_855[2], "ACK*IA*6*BX", "ACK*IB*4*BX"]

    (line,) = mapped(body, "855").lines

    assert (line.status, line.quantity) == ("changed", D(6))


def test_855_unknown_codes_are_rejected():
    bad_type = content_error(["BAK*00*ZZ*PO-1*20240105"], "855")
    bad_line = content_error([ACK_855[0], ACK_855[2], "ACK*XX*1*EA"], "855")

    assert (bad_type.element, bad_type.syntax_code) == ("BAK02", "7")
    assert (bad_line.element, bad_line.position) == ("ACK01", 4)


# --- 810 --------------------------------------------------------------------------------------

CREDIT_810 = [
    "BIG*20240110*CM-9*20240105*PO-1001***CR",
    "CUR*SE*EUR",
    "REF*VN*V-1",
    "N1*RI*Acme Remit*91*ACME-R",
    "N3*PO Box 1",
    "N4*Boston*MA*02101",
    "ITD*01*3*2**10**30",
    "IT1*1*4*BX*12.50**VP*GLV-100",
    "PID*F****Gloves",
    "TXI*ST*3.25",
    "ITA*A*AB*I410*02***500",
    "REF*PO*PO-0999",
    "IT1*2*1*EA*7",
    "SAC*C*D240***250",
    "TDS*6075",
    "TXI*ST*1.50",
    "SAC*C*D240***1000",
    "CTT*2",
]


def test_810_credit_memo_with_allowances_taxes_and_terms():
    invoice = mapped(CREDIT_810, "810")

    assert (invoice.invoice_number, invoice.kind) == ("CM-9", "credit_memo")
    assert (invoice.po_number, invoice.currency) == ("PO-1001", "EUR")
    assert invoice.terms == "2% discount within 10 days, net 30 days"
    assert invoice.party("remit_to").code == "ACME-R"
    first, second = invoice.lines
    assert first.description == "Gloves"
    assert first.tax_amount == D("3.25")
    assert first.allowances_charges == [
        AllowanceCharge(indicator="A", amount=D("5.00"), code="I410")
    ]
    assert first.po_number == "PO-0999"
    assert second.allowances_charges[0].signed_amount == D("2.50")
    # SAC after TDS belongs to the summary, not to the last line.
    assert invoice.allowances_charges == [
        AllowanceCharge(indicator="C", amount=D("10.00"), code="D240")
    ]
    assert invoice.tax_amount == D("1.50")
    assert invoice.total_amount == D("60.75")


def test_810_tds_has_two_implied_decimals():
    body = ["BIG*20240110*INV-1", "IT1*1*1*EA*29.99", "TDS*2999"]

    assert mapped(body, "810").total_amount == D("29.99")


def test_810_without_tds_is_rejected():
    error = content_error(["BIG*20240110*INV-1", "IT1*1*1*EA*29.99"], "810")

    assert (error.segment, error.syntax_code) == ("TDS", "3")


def test_810_non_numeric_quantity_message():
    error = content_error(["BIG*20240110*INV-1", "IT1*1*abc*EA*5", "TDS*500"], "810")

    assert error.message == "IT1 segment 3, element IT102: quantity 'abc' is not a number"


def test_810_negative_sac_amount_becomes_the_opposite_indicator():
    body = ["BIG*20240110*INV-1", "IT1*1*1*EA*10", "SAC*C*D240***-100", "TDS*900"]

    (line,) = mapped(body, "810").lines

    assert line.allowances_charges == [
        AllowanceCharge(indicator="A", amount=D("1.00"), code="D240")
    ]


# --- 856 --------------------------------------------------------------------------------------

ASN_856 = [
    "BSN*00*SH-1*20240105*1200",
    "HL*1**S",
    "TD5*B*2*UPSN",
    "REF*BM*BOL-1",
    "REF*CN*1Z999",
    "DTM*011*20240105",
    "DTM*017*240108",
    "N1*SF*Acme DC*91*DC1",
    "HL*2*1*O",
    "PRF*PO-1001",
    "HL*3*2*P",
    "HL*4*3*I",
    "LIN*1*VP*GLV-100*LT*LOT-A*PL*1",
    "SN1**10*BX",
    "DTM*036*20261231",
    "HL*5*2*I",
    "LIN*2*VP*PUMP-1*SN*SER-9",
    "SN1**1*EA",
    "REF*LT*LOT-B",
    "HL*6*1*O",
    "PRF*PO-1002",
    "HL*7*6*I",
    "LIN**UK*00012345678905",
    "SN1**4*CA",
    "CTT*7",
]


def test_856_hierarchy_gives_lines_with_their_orders_lots_and_serials():
    notice = mapped(ASN_856, "856")

    assert (notice.shipment_id, notice.carrier, notice.tracking_number) == (
        "SH-1",
        "UPSN",
        "1Z999",
    )
    assert notice.ship_date == datetime.date(2024, 1, 5)
    assert notice.expected_date == datetime.date(2024, 1, 8)
    assert notice.po_numbers == ["PO-1001", "PO-1002"]
    first, second, third = notice.lines
    assert (first.po_number, first.po_line_number, first.lot) == ("PO-1001", "1", "LOT-A")
    assert first.expiry == datetime.date(2026, 12, 31)
    assert (first.quantity, first.unit, first.item.vendor_part) == (D(10), "BX", "GLV-100")
    assert (second.po_number, second.serial, second.lot) == ("PO-1001", "SER-9", "LOT-B")
    assert (third.po_number, third.line_number, third.item.gtin) == (
        "PO-1002",
        "3",
        "00012345678905",
    )
    assert notice.parties[0].role == "ship_from"


def test_856_item_without_sn1_is_rejected():
    body = [segment for segment in ASN_856 if segment != "SN1**1*EA"]

    error = content_error(body, "856")

    assert (error.segment, error.syntax_code) == ("SN1", "3")


def test_856_unknown_parent_level_is_rejected():
    body = [segment.replace("HL*7*6*I", "HL*7*9*I") for segment in ASN_856]

    error = content_error(body, "856")

    assert error.element == "HL02"
    assert "'9' is not an earlier HL" in error.message


# --- mapping a whole interchange ----------------------------------------------------------------


def test_map_interchange_records_documents_and_errors_per_set():
    bad = [*PO_850[:8], "PO1*1*abc*BX*12.50**VP*GLV-100", *PO_850[9:]]
    interchange = read_interchange(interchange_text(PO_850, bad, PO_850))

    mapped_sets = map_interchange(interchange)

    assert [tx.document is not None for tx in mapped_sets] == [True, False, True]
    assert mapped_sets[1].error.element == "PO102"


def test_sets_without_a_map_are_left_alone_and_refused_by_to_canonical():
    interchange = read_interchange(interchange_text(["BPR*I*1"], set_id="835"))

    assert map_interchange(interchange) == []
    with pytest.raises(X12Error) as caught:
        to_canonical(interchange.transaction_sets[0])
    assert (caught.value.element, caught.value.syntax_code) == ("ST01", "1")
