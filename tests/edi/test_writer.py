"""Writing X12: the generic serializer and the 850, round-tripped through the reader."""

import dataclasses
import datetime
import string
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.edi.x12 import (
    OutboundEnvelope,
    Separators,
    format_segment,
    purchase_order_to_850,
    read_interchange,
    to_canonical,
    transaction_set,
    write_interchange,
)
from apps.p2p.canonical import (
    AllowanceCharge,
    Envelope,
    ItemIds,
    Line,
    Party,
    PurchaseOrder,
    Reference,
)

NOW = datetime.datetime(2024, 1, 5, 14, 30, tzinfo=datetime.UTC)
BOUNDED = settings(max_examples=300, deadline=None)

# Separator candidates never used by the generated values below.
SEPARATOR_POOL = "*~^|!`+>:;{}[]=@$%?"
TEXT_ALPHABET = string.ascii_letters + string.digits + " .,-/#&()'"


def order() -> PurchaseOrder:
    return PurchaseOrder(
        po_number="PO-1001",
        po_date=datetime.date(2024, 1, 5),
        purpose="original",
        order_type="SA",
        currency="USD",
        parties=[
            Party(
                role="buyer",
                name="St Mary Hospital",
                code="SMH",
                id_qualifier="92",
                id_code="SMH",
                address=["1 Main St", "Building B", "Dock 4"],
                city="Springfield",
                state="IL",
                postal_code="62701",
                country="US",
            ),
            Party(role="supplier", name="Acme Medical", id_qualifier="1", id_code="123456789"),
        ],
        references=[Reference(qualifier="DP", value="ICU", description="Intensive care")],
        dates={"002": datetime.date(2024, 1, 10)},
        terms="Net 30",
        lines=[
            Line(
                line_number="1",
                quantity=Decimal(10),
                unit="BX",
                unit_price=Decimal("12.50"),
                description="Nitrile gloves, medium",
                item=ItemIds(
                    vendor_part="GLV-100",
                    buyer_part="H-200",
                    gtin="00012345678905",
                    others={"UP": "012345678905"},
                ),
                allowances_charges=[AllowanceCharge(indicator="A", amount=Decimal("5.00"))],
            ),
            Line(
                line_number="2", quantity=Decimal("2.5"), unit="EA", item=ItemIds(vendor_part="X")
            ),
        ],
        allowances_charges=[AllowanceCharge(indicator="C", amount=Decimal("15.00"), code="D240")],
        total_amount=Decimal("135.00"),
    )


def generate(po: PurchaseOrder, **options) -> str:
    return purchase_order_to_850(
        po,
        sender_id="HOSPITALBUYER",
        receiver_id="ACMESUPPLY",
        interchange_control="123",
        group_control="45",
        now=NOW,
        **options,
    )


def parse(text: str) -> PurchaseOrder:
    (tx,) = read_interchange(text).transaction_sets
    return to_canonical(tx)


def test_850_is_a_full_interchange():
    text = generate(order())

    lines = text.splitlines()
    assert lines[0] == (
        "ISA*00*          *00*          *ZZ*HOSPITALBUYER  *ZZ*ACMESUPPLY     "
        "*240105*1430*U*00401*000000123*0*P*:~"
    )
    assert len(lines[0]) == 106  # fixed width, terminator included
    assert lines[1] == "GS*PO*HOSPITALBUYER*ACMESUPPLY*20240105*1430*45*X*004010~"
    assert lines[2] == "ST*850*0001~"
    assert lines[3] == "BEG*00*SA*PO-1001**20240105~"
    assert "PO1*1*10*BX*12.50**VP*GLV-100*BP*H-200*UK*00012345678905*UP*012345678905~" in lines
    assert "SAC*C*D240***1500~" in lines
    assert "ITD*ZZ***********Net 30~" in lines
    assert lines[-5:] == [
        "CTT*2~",
        "AMT*TT*135.00~",
        f"SE*{len(lines) - 4}*0001~",
        "GE*1*45~",
        "IEA*1*000000123~",
    ]


def test_850_round_trip_gives_the_same_purchase_order():
    po = order()

    parsed = parse(generate(po))

    assert parsed.envelope == Envelope(
        sender_id="HOSPITALBUYER",
        receiver_id="ACMESUPPLY",
        interchange_control="000000123",
        group_control="45",
        set_control="0001",
        version="004010",
    )
    assert dataclasses.replace(parsed, envelope=Envelope()) == po


def test_850_in_005010_declares_a_repetition_separator():
    text = generate(order(), version="005010")

    interchange = read_interchange(text)
    assert (interchange.version, interchange.separators.repetition) == ("00501", "^")
    assert interchange.transaction_sets[0].version == "005010"


def test_850_refuses_values_containing_a_separator():
    po = dataclasses.replace(order(), po_number="PO*1")

    with pytest.raises(ValueError, match=r"BEG03 value 'PO\*1' contains a separator"):
        generate(po)


def test_850_refuses_allowances_with_fractions_of_cents():
    po = order()
    po.allowances_charges[0].amount = Decimal("1.005")

    with pytest.raises(ValueError, match="more than 2 decimal places"):
        generate(po)


def test_format_segment_drops_trailing_empty_elements_and_components():
    separators = Separators()

    assert format_segment(["N1", "ST", "", "", ""], separators) == "N1*ST"
    assert format_segment(["SV1", ("HC", "99213", ""), "", "12"], separators) == "SV1*HC:99213**12"
    assert format_segment(["REF"], separators) == "REF"


@pytest.mark.parametrize("bad", [Separators(element="a"), Separators(element="*", segment="*")])
def test_unusable_separators_are_refused(bad):
    with pytest.raises(ValueError, match="separator"):
        write_interchange(
            OutboundEnvelope("A", "B", "1", "1", "PO"), [transaction_set("850", "1", [])], bad
        )


# --- property-based round trips ---------------------------------------------------------------

codes = st.text(string.ascii_uppercase + string.digits, min_size=1, max_size=10)
free_text = st.text(TEXT_ALPHABET, min_size=1, max_size=30).map(str.strip).filter(bool)
optional_text = st.one_of(st.just(""), free_text)
quantities = st.decimals(min_value=0, max_value=10**7, places=4)
cents = st.decimals(min_value=0, max_value=10**6, places=2)
dates = st.dates(min_value=datetime.date(1990, 1, 1), max_value=datetime.date(2089, 12, 31))


@st.composite
def separator_sets(draw) -> Separators:
    element, component, repetition, segment = draw(
        st.lists(st.sampled_from(SEPARATOR_POOL), min_size=4, max_size=4, unique=True)
    )
    if draw(st.booleans()):
        segment = "\n"
    return Separators(element, component, repetition, segment)


allowances = st.builds(
    AllowanceCharge,
    indicator=st.sampled_from("AC"),
    amount=cents,
    code=st.one_of(st.just(""), codes),
    description=optional_text,
)


@st.composite
def parties(draw) -> Party:
    qualifier, id_code = draw(
        st.one_of(
            st.just(("", "")),
            st.tuples(st.sampled_from(["1", "9", "91", "92", "UL", "ZZ"]), codes),
        )
    )
    return Party(
        role=draw(st.sampled_from(["buyer", "supplier", "ship_to", "bill_to", "DU", "LW"])),
        name=draw(optional_text),
        # What the reader derives: the buyer's own code is N104 under 92 or ZZ.
        code=id_code if qualifier in ("92", "ZZ") else "",
        id_qualifier=qualifier,
        id_code=id_code,
        address=draw(st.lists(free_text, max_size=3)),
        city=draw(optional_text),
        state=draw(st.one_of(st.just(""), codes)),
        postal_code=draw(st.one_of(st.just(""), codes)),
        country=draw(st.sampled_from(["", "US", "CA"])),
    )


lines = st.builds(
    Line,
    line_number=codes,
    quantity=quantities,
    unit=st.sampled_from(["EA", "BX", "CA", "PK"]),
    item=st.builds(
        ItemIds,
        vendor_part=st.one_of(st.just(""), codes),
        buyer_part=st.one_of(st.just(""), codes),
        gtin=st.one_of(st.just(""), st.text(string.digits, min_size=14, max_size=14)),
        others=st.dictionaries(st.sampled_from(["UP", "N4", "MG", "CB", "SK"]), codes, max_size=3),
    ),
    unit_price=st.one_of(st.none(), quantities),
    description=optional_text,
    amount=st.one_of(st.none(), quantities),
    allowances_charges=st.lists(allowances, max_size=2),
)

purchase_orders = st.builds(
    PurchaseOrder,
    po_number=codes,
    po_date=dates,
    purpose=st.sampled_from(["original", "cancel", "change", "replace"]),
    order_type=st.sampled_from(["SA", "NE", "KN", "RL"]),
    currency=st.sampled_from(["USD", "EUR", "CAD"]),
    parties=st.lists(parties(), max_size=4),
    references=st.lists(
        st.builds(
            Reference,
            qualifier=st.text(string.ascii_uppercase + string.digits, min_size=2, max_size=3),
            value=codes,
            description=optional_text,
        ),
        max_size=3,
    ),
    dates=st.dictionaries(st.sampled_from(["002", "010", "037", "038", "063"]), dates, max_size=3),
    terms=optional_text,
    lines=st.lists(lines, min_size=1, max_size=5),
    allowances_charges=st.lists(allowances, max_size=2),
    total_amount=st.one_of(st.none(), quantities),
)


@BOUNDED
@given(
    po=purchase_orders, separators=separator_sets(), version=st.sampled_from(["004010", "005010"])
)
def test_850_round_trip_property(po, separators, version):
    text = generate(po, separators=separators, version=version)

    parsed = parse(text)

    assert parsed.envelope.version == version
    assert dataclasses.replace(parsed, envelope=Envelope()) == po


segment_ids = st.from_regex(r"[A-Z][A-Z0-9]{1,2}", fullmatch=True).filter(
    lambda value: value not in {"ISA", "IEA", "GS", "GE", "ST", "SE"}
)
values = st.text(TEXT_ALPHABET, max_size=12).map(str.strip)
elements = st.one_of(values, st.lists(values, min_size=1, max_size=3).map(tuple))
segments = st.tuples(segment_ids, st.lists(elements, max_size=6)).map(
    lambda pair: [pair[0], *pair[1]]
)


def expected(segment: list, separators: Separators) -> tuple:
    """What the reader gives back: components joined, trailing empties dropped."""
    parts = []
    for value in segment[1:]:
        components = [value] if isinstance(value, str) else list(value)
        while components and not components[-1]:
            components.pop()
        parts.append(separators.component.join(components))
    while parts and not parts[-1]:
        parts.pop()
    return (segment[0], *parts)


@BOUNDED
@given(
    body=st.lists(segments, max_size=8),
    separators=separator_sets(),
    line_break=st.sampled_from(["", "\n", "\r\n", "\n    "]),
)
def test_serializer_round_trip_property(body, separators, line_break):
    envelope = OutboundEnvelope("SENDER", "RECEIVER", "77", "7", "PO", version="005010", now=NOW)
    text = write_interchange(
        envelope, [transaction_set("850", "0001", body)], separators, line_break=line_break
    )

    interchange = read_interchange(text)

    assert interchange.separators == separators
    (tx,) = interchange.transaction_sets
    assert tx.error is None
    assert [(s.id, *s.elements) for s in tx.segments[1:-1]] == [
        expected(segment, separators) for segment in body
    ]
