"""The simulated supplier: reads 850s, plays each scenario in X12, posts or drops receipts."""

import csv
import datetime
import json
import threading
from collections import Counter
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.management import call_command

from apps.connectors.signing import verify
from apps.sandbox import supplier as supplier_module
from apps.sandbox.demo_network import procurement_supplier_key
from apps.sandbox.supplier import (
    DEFAULT_WEIGHTS,
    EDI_SUPPLIERS,
    RECEIPT_CSV_HEADER,
    SCENARIOS,
    SUPPLIER_ISA_IDS,
    SupplierConfig,
    SupplierSimulator,
    scenario_pick,
    supplier_catalogue,
    supplier_parts,
    weights_parse,
    write_atomically,
    x12_read,
)

SECRET = "supplier-test-secret"
NOW = 1_795_000_000.0  # 2026-11-18
MEDLINE = SupplierConfig("medline", "MEDLINEEDI")


def _parts() -> tuple[str, str]:
    """A Medline part that ships with lots (sterile) and one that does not."""
    catalogue = supplier_catalogue("medline")
    lot = next(p for p, entry in catalogue.items() if entry.lot)
    plain = next(p for p, entry in catalogue.items() if not entry.lot)
    return lot, plain


LOT_PART, PLAIN_PART = _parts()
GTIN = "00012345678905"
# line number, quantity, unit, unit price, vendor part, gtin, description
LINES = (
    ("1", "10", "BX", "12.50", LOT_PART, GTIN, "Sterile gloves"),
    ("2", "3", "EA", "7.25", PLAIN_PART, "", "Exam table paper"),
    ("3", "1", "CS", "80.00", PLAIN_PART + "X", "", ""),
)


# --- Building 850s and reading what the supplier wrote ------------------------------------------


def x12_850(
    po_number: str,
    lines=LINES,
    *,
    scenario: str = "",
    receiver: str = "MEDLINEEDI",
    element: str = "*",
    terminator: str = "~",
    between: str = "\n",
    control: int = 101,
) -> str:
    isa = element.join(
        [
            "ISA",
            "00",
            " " * 10,
            "00",
            " " * 10,
            "ZZ",
            "HUBCONSOLE".ljust(15),
            "ZZ",
            receiver.ljust(15),
            "261118",
            "1200",
            "U",
            "00401",
            f"{control:09d}",
            "0",
            "P",
            ">",
        ]
    )
    body = [["BEG", "00", "SA", po_number, "", "20261117"], ["CUR", "BY", "USD"]]
    if scenario:
        body.append(["REF", "ZZ", "SCENARIO", scenario])
    body.append(["N1", "ST", "Northbridge Regional Medical Center", "92", "HOSP-NORTH"])
    for number, quantity, unit, price, part, gtin, description in lines:
        po1 = ["PO1", number, quantity, unit, price, "", "VP", part, "BP", f"ITEM-{number}"]
        body.append(po1 + (["UK", gtin] if gtin else []))
        if description:
            body.append(["PID", "F", "", "", "", description])
    body.append(["CTT", str(len(lines))])
    transaction = [["ST", "850", "0001"], *body]
    transaction.append(["SE", str(len(transaction) + 1), "0001"])
    segments = [
        ["GS", "PO", "HUBCONSOLE", receiver, "20261118", "1200", str(control), "X", "004010"],
        *transaction,
        ["GE", "1", str(control)],
        ["IEA", "1", f"{control:09d}"],
    ]
    return (
        isa
        + terminator
        + "".join(between + element.join(s) + terminator for s in segments)
        + between
    )


def segments(path: Path) -> list[list[str]]:
    text = path.read_text()
    assert text.endswith("~\n")
    return [s.strip().split("*") for s in text.split("~") if s.strip()]


def find(segs: list[list[str]], tag: str) -> list[list[str]]:
    return [s for s in segs if s[0] == tag]


def assert_envelope(path: Path) -> str:
    """Counts and control numbers agree; returns the interchange control number."""
    text = path.read_text()
    assert text.index("~") == 105, "the ISA is 106 characters with its terminator"
    assert text[3] == "*"
    assert text[104] == ">"
    segs = segments(path)
    isa, gs, st = segs[0], segs[1], segs[2]
    se, ge, iea = segs[-3], segs[-2], segs[-1]
    assert [isa[0], gs[0], st[0], se[0], ge[0], iea[0]] == ["ISA", "GS", "ST", "SE", "GE", "IEA"]
    assert (isa[6].strip(), isa[8].strip()) == ("MEDLINEEDI", "HUBCONSOLE")
    assert int(se[1]) == len(segs) - 4, "SE01 counts ST to SE"
    assert se[2] == st[2]
    assert (ge[1], ge[2]) == ("1", gs[6])
    assert (iea[1], iea[2]) == ("1", isa[13])
    assert int(gs[6]) == int(isa[13])
    assert gs[1] == {"855": "PR", "856": "SH", "810": "IN"}[st[1]]
    return isa[13]


def out_files(root: Path, set_id: str = "", folder: str = "medline") -> list[Path]:
    return sorted((root / folder / "out").glob(f"{set_id}*.x12"))


def amounts(segs) -> dict[str, Decimal]:
    lines = sum(Decimal(s[2]) * Decimal(s[4]) for s in find(segs, "IT1"))
    header_tax = [s for s in segs if s[0] == "TXI"][-1:] if find(segs, "TXI") else []
    return {
        "lines": lines.quantize(Decimal("0.01")),
        "tds": Decimal(find(segs, "TDS")[0][1]) / 100,
        "charges": sum((Decimal(s[5]) / 100 for s in find(segs, "SAC")), Decimal(0)),
        "tax": Decimal(header_tax[0][2]) if header_tax else Decimal(0),
    }


# --- Fixtures -----------------------------------------------------------------------------------


class Receiver(ThreadingHTTPServer):
    """HubConsole's webhook door, as far as the supplier can tell: it records every post."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)
        self.posts: list[tuple[str, dict, bytes]] = []
        self.statuses: list[int] = []  # answers to give, then 202

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def bodies(self) -> list[dict]:
        return [json.loads(body) for _, _, body in self.posts]


class _ReceiverHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.posts.append((self.path, headers, body))
        status = self.server.statuses.pop(0) if self.server.statuses else 202
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path / "sftp"


@pytest.fixture
def make(root, tmp_path, receiver):
    def make(**options) -> SupplierSimulator:
        defaults = {
            "root": root,
            "suppliers": [MEDLINE],
            "base_url": receiver.url,
            "receipt_webhook": "inventory-receipts",
            "secret": SECRET,
            "receipts_folder": tmp_path / "receipts",
            "ship_delay": 0,
            "invoice_delay": 0,
            "retry_seconds": 5,
        }
        return SupplierSimulator(**{**defaults, **options})

    return make


def drop(root: Path, name: str, text: str, folder: str = "medline") -> Path:
    path = root / folder / "in" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def play(make, root, scenario: str, po_number: str = "PO-1001", **options):
    simulator = make(**options)
    drop(root, f"{po_number}.x12", x12_850(po_number, scenario=scenario))
    done = simulator.step(now=NOW)
    return simulator, done


# --- Scenarios ----------------------------------------------------------------------------------


def test_supplier_clean_acknowledges_ships_and_invoices_exactly(make, root, receiver):
    _, done = play(make, root, "clean")

    assert [p.name[:3] for p in out_files(root)] == ["810", "855", "856"]
    controls = [assert_envelope(p) for p in out_files(root)]
    assert len(set(controls)) == 3
    ack = segments(out_files(root, "855")[0])
    assert find(ack, "BAK")[0][1:4] == ["00", "AT", "PO-1001"]
    assert [s[1] for s in find(ack, "ACK")] == ["IA", "IA", "IA"]
    asn = segments(out_files(root, "856")[0])
    assert find(asn, "PRF")[0][1] == "PO-1001"
    assert [s[1:4] for s in find(asn, "HL")] == [["1", "", "S"], ["2", "1", "O"]] + [
        [str(n), "2", "I"] for n in (3, 4, 5)
    ]
    assert [s[2:4] for s in find(asn, "SN1")] == [["10", "BX"], ["3", "EA"], ["1", "CS"]]
    assert find(asn, "LIN")[0] == ["LIN", "1", "VP", LOT_PART, "UK", GTIN, "BP", "ITEM-1"]
    assert find(asn, "LIN")[1] == ["LIN", "2", "VP", PLAIN_PART, "BP", "ITEM-2"]
    # Only the sterile part ships with a lot and expiry.
    assert len(find(asn, "REF")) == 2  # REF*BM and one REF*LT
    assert find(asn, "REF")[1][1] == "LT"
    assert find(asn, "DTM")[1][1] == "036"
    assert find(asn, "TD5")
    assert find(asn, "REF")[0][1] == "BM"
    invoice = segments(out_files(root, "810")[0])
    big = find(invoice, "BIG")[0]
    assert (big[2], big[4]) == ("MDL-INV-000001", "PO-1001")
    assert len(big) == 5  # no BIG07: an invoice, not a credit memo
    assert [s[1:5] for s in find(invoice, "IT1")] == [
        ["1", "10", "BX", "12.50"],
        ["2", "3", "EA", "7.25"],
        ["3", "1", "CS", "80.00"],
    ]
    assert find(invoice, "TDS")[0][1] == str(12500 + 2175 + 8000)
    assert find(invoice, "CTT")[0][1] == "3"
    n1 = {s[1]: s for s in find(invoice, "N1")}
    assert n1["SE"][3:] == ["91", "MEDLINEEDI"]
    assert "RI" in n1
    assert n1["ST"][4] == "HOSP-NORTH"
    assert any("scenario clean" in line for line in done)
    assert len(receiver.posts) == 1


def test_supplier_price_change_acknowledges_a_higher_price_and_invoices_it(make, root):
    play(make, root, "price_change")

    ack = segments(out_files(root, "855")[0])
    assert find(ack, "BAK")[0][2] == "AC"
    statuses = [s[1] for s in find(ack, "ACK")]
    assert sorted(statuses) == ["IA", "IA", "IC"]
    changed = statuses.index("IC")
    original = Decimal(LINES[changed][3])
    new_price = Decimal(find(ack, "PO1")[changed][4])
    assert new_price == (original * Decimal("1.05")).quantize(Decimal("0.01"))
    assert new_price > original
    invoice = segments(out_files(root, "810")[0])
    assert [Decimal(s[4]) for s in find(invoice, "IT1")] == [
        new_price if n == changed else Decimal(line[3]) for n, line in enumerate(LINES)
    ]


def test_supplier_invoice_price_above_invoices_one_line_8_percent_higher(make, root):
    play(make, root, "invoice_price_above")

    ack = segments(out_files(root, "855")[0])
    assert find(ack, "BAK")[0][2] == "AT"
    invoiced = [Decimal(s[4]) for s in find(segments(out_files(root, "810")[0]), "IT1")]
    ordered = [Decimal(line[3]) for line in LINES]
    differ = [n for n in range(len(LINES)) if invoiced[n] != ordered[n]]
    assert len(differ) == 1
    assert invoiced[differ[0]] == (ordered[differ[0]] * Decimal("1.08")).quantize(Decimal("0.01"))


def test_supplier_short_ship_ships_and_receives_less_but_invoices_all(make, root, receiver):
    play(make, root, "short_ship")

    shipped = [Decimal(s[2]) for s in find(segments(out_files(root, "856")[0]), "SN1")]
    ordered = [Decimal(line[1]) for line in LINES]
    short = [n for n in range(3) if shipped[n] < ordered[n]]
    assert len(short) == 1
    assert ordered[short[0]] > 1  # the short line is one that had more than one unit
    received = [Decimal(line["quantity"]) for line in receiver.bodies()[0]["lines"]]
    assert received == shipped
    invoiced = [Decimal(s[2]) for s in find(segments(out_files(root, "810")[0]), "IT1")]
    assert invoiced == ordered


def test_supplier_partial_ships_twice_and_invoices_each_shipment(make, root, receiver):
    play(make, root, "partial_two_invoices")

    asns, invoices = out_files(root, "856"), out_files(root, "810")
    assert (len(asns), len(invoices)) == (2, 2)
    per_shipment = []
    for asn in asns:
        segs = segments(asn)
        per_shipment.append(
            {
                lin[1]: Decimal(sn1[2])
                for lin, sn1 in zip(find(segs, "LIN"), find(segs, "SN1"), strict=True)
            }
        )
    per_invoice = []
    for invoice in invoices:
        per_invoice.append({s[1]: Decimal(s[2]) for s in find(segments(invoice), "IT1")})
    assert per_invoice == per_shipment
    totals = Counter()
    for shipment in per_shipment:
        totals.update(shipment)
    assert totals == {"1": 10, "2": 3, "3": 1}
    numbers = [find(segments(p), "BIG")[0][2] for p in invoices]
    assert len(set(numbers)) == 2
    assert len(receiver.posts) == 2
    assert [b["po_number"] for b in receiver.bodies()] == ["PO-1001", "PO-1001"]


def test_supplier_duplicate_invoice_is_resent_in_a_new_interchange(make, root):
    play(make, root, "duplicate_invoice")

    first, second = out_files(root, "810")
    assert assert_envelope(first) != assert_envelope(second)
    envelope = ("ISA", "GS", "ST", "SE", "GE", "IEA")
    assert [s for s in segments(first) if s[0] not in envelope] == [
        s for s in segments(second) if s[0] not in envelope
    ]
    assert find(segments(first), "BIG")[0][2] == find(segments(second), "BIG")[0][2]


def test_supplier_credit_memo_follows_a_clean_invoice(make, root):
    play(make, root, "credit_memo")

    invoice, memo = (segments(p) for p in out_files(root, "810"))
    assert len(find(invoice, "BIG")[0]) == 5
    big = find(memo, "BIG")[0]
    assert big[7] == "CR"
    assert big[2].startswith("MDL-CM-")
    assert find(memo, "REF")[0][1:] == ["OI", find(invoice, "BIG")[0][2]]
    (line,) = find(memo, "IT1")
    assert line[2] == "1"
    credited = LINES[int(line[1]) - 1]
    assert line[4] == credited[3]
    assert Decimal(find(memo, "TDS")[0][1]) == Decimal(credited[3]) * 100


def test_supplier_rejected_acknowledges_rj_and_nothing_else(make, root, receiver):
    simulator, _ = play(make, root, "rejected")
    simulator.step(now=NOW + 3600)

    assert [p.name[:3] for p in out_files(root)] == ["855"]
    ack = segments(out_files(root, "855")[0])
    assert find(ack, "BAK")[0][2] == "RJ"
    assert [s[1] for s in find(ack, "ACK")] == ["IR", "IR", "IR"]
    assert receiver.posts == []


def test_supplier_no_ack_ship_accepts_and_never_ships(make, root, receiver):
    simulator, _ = play(make, root, "no_ack_ship")
    simulator.step(now=NOW + 86400)

    assert [p.name[:3] for p in out_files(root)] == ["855"]
    assert find(segments(out_files(root, "855")[0]), "BAK")[0][2] == "AT"
    assert receiver.posts == []
    assert simulator.state(MEDLINE)["actions"] == []


def test_supplier_tax_mismatch_states_other_tax_than_its_lines(make, root):
    play(make, root, "tax_mismatch")

    segs = segments(out_files(root, "810")[0])
    txi = find(segs, "TXI")
    line_tax = sum(Decimal(s[2]) for s in txi[:-1])
    header_tax = Decimal(txi[-1][2])
    assert len(txi) == len(LINES) + 1
    assert line_tax > 0
    assert header_tax != line_tax
    money = amounts(segs)
    assert money["tds"] == money["lines"] + money["charges"] + header_tax  # balanced otherwise


def test_supplier_unbalanced_total_is_not_lines_charges_and_tax(make, root):
    play(make, root, "unbalanced")

    money = amounts(segments(out_files(root, "810")[0]))
    assert money["charges"] == Decimal("15.00")
    assert money["tds"] != money["lines"] + money["charges"] + money["tax"]
    assert money["tds"] == money["lines"] + money["tax"]


def test_supplier_clean_invoices_carry_tax_when_a_rate_is_set(make, root):
    play(make, root, "clean", tax_rate=Decimal("0.05"))

    money = amounts(segments(out_files(root, "810")[0]))
    assert money["tax"] == Decimal("11.34")  # 6.25 + 1.09 + 4.00 (1.0875 rounds up)
    assert money["tds"] == money["lines"] + money["tax"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_supplier_every_scenario_writes_sound_envelopes_with_unique_controls(make, root, scenario):
    play(make, root, scenario)

    controls = [assert_envelope(p) for p in out_files(root)]
    assert len(controls) == len(set(controls))
    assert not list((root / "medline" / "out").glob(".*"))  # no partial files left


# --- Scenario choice ----------------------------------------------------------------------------


def test_supplier_scenario_pick_is_deterministic_and_follows_the_weights():
    numbers = [f"PO-{n:06d}" for n in range(4000)]

    picks = Counter(scenario_pick(n, DEFAULT_WEIGHTS) for n in numbers)

    assert [scenario_pick(n, DEFAULT_WEIGHTS) for n in numbers[:50]] == [
        scenario_pick(n, DEFAULT_WEIGHTS) for n in numbers[:50]
    ]
    assert set(picks) == set(SCENARIOS)
    share = picks["clean"] / len(numbers)
    assert 0.45 < share < 0.55
    assert Counter(scenario_pick(n, {"clean": 0, "rejected": 1}) for n in numbers[:20]) == {
        "rejected": 20
    }


def test_supplier_scenario_forced_by_argument_and_overridden_by_the_po(make, root):
    simulator = make(scenario="rejected")
    drop(root, "a.x12", x12_850("PO-A"))
    drop(root, "b.x12", x12_850("PO-B", scenario="no_ack_ship"))

    done = simulator.step(now=NOW)

    assert "medline: PO PO-A received, scenario rejected" in done
    assert "medline: PO PO-B received, scenario no_ack_ship" in done


def test_supplier_weights_parse_over_defaults():
    weights = weights_parse("clean=0, rejected=5")

    assert weights["clean"] == 0
    assert weights["rejected"] == 5
    assert weights["price_change"] == DEFAULT_WEIGHTS["price_change"]
    with pytest.raises(ValueError, match="Unknown scenario"):
        weights_parse("sunny=1")


# --- Timing, state and restarts -----------------------------------------------------------------


def test_supplier_acks_at_once_ships_and_invoices_when_due(make, root, receiver):
    simulator = make(ship_delay=5, invoice_delay=10)
    drop(root, "po.x12", x12_850("PO-2001", scenario="clean"))

    simulator.step(now=NOW)
    after_ack = [p.name[:3] for p in out_files(root)]
    simulator.step(now=NOW + 4.9)
    still = [p.name[:3] for p in out_files(root)]
    simulator.step(now=NOW + 5)
    shipped = [p.name[:3] for p in out_files(root)]
    posts_after_ship = len(receiver.posts)
    simulator.step(now=NOW + 10)

    assert after_ack == still == ["855"]
    assert shipped == ["855", "856"]
    assert posts_after_ship == 1
    assert [p.name[:3] for p in out_files(root)] == ["810", "855", "856"]


def test_supplier_restart_continues_from_the_state_file(make, root):
    first = make(ship_delay=5, invoice_delay=10)
    drop(root, "po.x12", x12_850("PO-3001", scenario="partial_two_invoices"))
    first.step(now=NOW)
    first.step(now=NOW + 5)
    pending = first.state(MEDLINE)["actions"]

    restarted = make(ship_delay=5, invoice_delay=10)
    restarted.step(now=NOW + 60)

    assert [a["do"] for a in pending] == ["ship", "invoice", "invoice"]
    names = [p.name for p in out_files(root)]
    assert sorted(n[:3] for n in names) == ["810", "810", "855", "856", "856"]
    controls = sorted(int(assert_envelope(p)) for p in out_files(root))
    assert controls == [1, 2, 3, 4, 5]
    assert restarted.state(MEDLINE)["actions"] == []
    assert restarted.state(MEDLINE)["orders"] == {}


def test_supplier_a_resent_850_is_not_played_twice(make, root):
    simulator = make()
    drop(root, "po.x12", x12_850("PO-4001", scenario="clean"))
    simulator.step(now=NOW)
    drop(root, "po-again.x12", x12_850("PO-4001", scenario="clean", control=102))

    done = simulator.step(now=NOW + 1)

    assert done == ["medline: PO PO-4001 seen before, ignored"]
    assert len(out_files(root, "855")) == 1
    assert sorted(p.name for p in (root / "medline" / "in" / "done").iterdir()) == [
        "po-again.x12",
        "po.x12",
    ]


def test_supplier_control_numbers_increase_across_orders_and_suppliers_keep_their_own(
    make, root, tmp_path
):
    cardinal = SupplierConfig("cardinal", "CARDINALEDI")
    simulator = make(suppliers=[MEDLINE, cardinal], scenario="clean")
    for n in range(3):
        drop(root, f"m{n}.x12", x12_850(f"PO-M{n}"))
    drop(root, "c.x12", x12_850("PO-C1", receiver="CARDINALEDI"), folder="cardinal")

    simulator.step(now=NOW)

    medline = [int(segments(p)[0][13]) for p in out_files(root)]
    assert sorted(medline) == list(range(1, 10))
    cardinal_files = out_files(root, folder="cardinal")
    assert sorted(int(segments(p)[0][13]) for p in cardinal_files) == [1, 2, 3]
    assert segments(cardinal_files[0])[0][6].strip() == "CARDINALEDI"


# --- Inbound files ------------------------------------------------------------------------------


def test_supplier_moves_997_and_999_to_done_without_answering(make, root):
    simulator = make()
    ack = x12_850("PO-X").replace("ST*850*0001", "ST*997*0001").replace("BEG*", "AK1*")
    drop(root, "ack.edi", ack)
    drop(root, "ack999.x12", ack.replace("ST*997", "ST*999"))

    simulator.step(now=NOW)

    assert out_files(root) == []
    assert sorted(p.name for p in (root / "medline" / "in" / "done").iterdir()) == [
        "ack.edi",
        "ack999.x12",
    ]


def test_supplier_moves_unreadable_files_to_error(make, root):
    simulator = make()
    drop(root, "junk.x12", "this is not X12")

    done = simulator.step(now=NOW)

    assert (root / "medline" / "in" / "error" / "junk.x12").exists()
    assert "unreadable" in done[0]
    assert out_files(root) == []


def test_supplier_ignores_partial_uploads_and_other_names(make, root):
    simulator = make()
    drop(root, ".po.x12.part", x12_850("PO-P"))
    drop(root, "notes.txt", "hello")

    assert simulator.step(now=NOW) == []


def test_supplier_waits_for_an_inbound_file_to_rest(make, root):
    simulator = make(min_age=3600)
    drop(root, "po.x12", x12_850("PO-R"))

    assert simulator.step(now=NOW) == []
    assert (root / "medline" / "in" / "po.x12").exists()


def test_supplier_reads_separators_from_the_isa_pretty_printed_with_bom(make, root):
    text = "\ufeff" + x12_850(
        "PO-5001", scenario="clean", element="|", terminator="^", between="\r\n    "
    )
    interchange = x12_read(text)
    drop(root, "po.x12", text)

    make().step(now=NOW)

    assert interchange.component == ">"
    assert interchange.sender_id == "HUBCONSOLE"
    assert [s[0] for s in interchange.segments[:4]] == ["ISA", "GS", "ST", "BEG"]
    po1 = find(segments(out_files(root, "855")[0]), "PO1")
    assert [s[1:5] for s in po1] == [
        ["1", "10", "BX", "12.50"],
        ["2", "3", "EA", "7.25"],
        ["3", "1", "CS", "80.00"],
    ]


# --- Receipts -----------------------------------------------------------------------------------


def test_supplier_posts_signed_receipt_webhooks(make, root, receiver):
    play(make, root, "clean")

    (path, headers, body) = receiver.posts[0]
    assert path == "/in/webhooks/inventory-receipts"
    verify(headers["x-hubconsole-signature"], body, [SECRET], tolerance=300)
    assert headers["content-type"] == "application/json"
    receipt = json.loads(body)
    asn_id = find(segments(out_files(root, "856")[0]), "BSN")[0][2]
    assert asn_id == "MDL-ASN-000001"
    assert receipt["receipt_id"] == "RCV-MDL-000001"
    assert receipt["event_id"] == "receipt-RCV-MDL-000001"
    assert (receipt["po_number"], receipt["facility"]) == ("PO-1001", "HOSP-NORTH")
    assert receipt["received_date"] == datetime.date.fromtimestamp(NOW).isoformat()
    first, second, third = receipt["lines"]
    assert first["item"] == LOT_PART
    assert first["quantity"] == "10"
    assert first["unit"] == "BX"
    assert first["lot"].startswith("L")
    assert first["expiry"] > receipt["received_date"]
    assert (second["lot"], second["serial"], second["expiry"]) == ("", "", "")
    assert third["item"] == PLAIN_PART + "X"
    assert set(first) == {"po_line_number", "item", "quantity", "unit", "lot", "serial", "expiry"}


def test_supplier_every_fourth_receipt_is_a_csv_file(make, root, tmp_path, receiver):
    simulator = make(scenario="clean")
    for n in range(1, 5):
        drop(root, f"po{n}.x12", x12_850(f"PO-60{n:02d}"))

    simulator.step(now=NOW)

    assert [b["receipt_id"] for b in receiver.bodies()] == [
        "RCV-MDL-000001",
        "RCV-MDL-000002",
        "RCV-MDL-000003",
    ]
    (csv_file,) = (tmp_path / "receipts").iterdir()
    assert csv_file.name == "receipt_RCV-MDL-000004.csv"
    text = csv_file.read_text()
    assert text.splitlines()[0] == RECEIPT_CSV_HEADER
    rows = list(csv.DictReader(text.splitlines()))
    assert [r["po_line_number"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["receipt_id"] == "RCV-MDL-000004"
    assert rows[0]["po_number"] == "PO-6004"
    assert (rows[0]["item"], rows[0]["quantity"], rows[0]["unit"]) == (LOT_PART, "10", "BX")
    assert rows[0]["lot"]
    assert rows[0]["expiry"]


def test_supplier_retries_a_receipt_hubconsole_could_not_take(make, root, receiver):
    receiver.statuses = [503]
    simulator, done = play(make, root, "clean")

    assert "not delivered (HTTP 503), retrying" in done[-1]
    assert len(receiver.posts) == 1
    simulator.step(now=NOW + 4)
    assert len(receiver.posts) == 1
    simulator.step(now=NOW + 5)
    first, second = receiver.posts
    # The same receipt and event id, so HubConsole can deduplicate it.
    assert json.loads(first[2]) == json.loads(second[2])
    assert simulator.state(MEDLINE)["actions"] == []


def test_supplier_drops_a_receipt_hubconsole_refuses(make, root, receiver):
    receiver.statuses = [404]
    simulator, done = play(make, root, "clean")

    assert "refused (HTTP 404), dropped" in done[-1]
    simulator.step(now=NOW + 60)
    assert len(receiver.posts) == 1


def test_supplier_serialised_items_are_received_one_line_per_serial(make, root, receiver):
    stryker = SupplierConfig("stryker", "STRYKEREDI")
    part = next(p for p, entry in supplier_catalogue("stryker").items() if entry.serial)
    simulator = make(suppliers=[stryker], scenario="clean")
    drop(root, "po.x12", x12_850("PO-7001", [("1", "3", "EA", "2100.00", part, "", "")]), "stryker")

    simulator.step(now=NOW)

    lines = receiver.bodies()[0]["lines"]
    assert [line["quantity"] for line in lines] == ["1", "1", "1"]
    assert len({line["serial"] for line in lines}) == 3
    assert all(line["lot"] for line in lines)  # implants carry lots too


# --- Writing ------------------------------------------------------------------------------------


def test_write_atomically_writes_a_hidden_part_then_renames(tmp_path, monkeypatch):
    target = tmp_path / "855_PO_1.x12"
    seen = []
    real_replace = supplier_module.os.replace

    def replace(source, destination):
        seen.append((Path(source).name, Path(source).read_text(), Path(destination).exists()))
        real_replace(source, destination)

    monkeypatch.setattr(supplier_module.os, "replace", replace)

    write_atomically(target, "ISA~\n")

    assert seen == [(".855_PO_1.x12.part", "ISA~\n", False)]
    assert target.read_text() == "ISA~\n"
    assert [p.name for p in tmp_path.iterdir()] == ["855_PO_1.x12"]


def test_supplier_output_files_are_renamed_into_place(make, root, monkeypatch):
    renamed = []
    real_replace = supplier_module.os.replace

    def replace(source, destination):
        renamed.append((Path(source), Path(destination)))
        real_replace(source, destination)

    monkeypatch.setattr(supplier_module.os, "replace", replace)
    play(make, root, "clean")

    x12 = [(s.name, d.name) for s, d in renamed if d.parent.name == "out"]
    assert [d[:3] for _, d in x12] == ["855", "856", "810"]
    assert all(s == f".{d}.part" for s, d in x12)


# --- The demo configuration and the command -----------------------------------------------------


def test_edi_suppliers_are_demo_suppliers_with_vendor_parts():
    assert len(EDI_SUPPLIERS) == 3
    for key in EDI_SUPPLIERS:
        assert len(supplier_parts(key)) > 100
        assert procurement_supplier_key(key)
        assert len(SUPPLIER_ISA_IDS[key]) <= 15


def test_sandbox_supplier_command_runs_one_step(root, tmp_path, settings, monkeypatch):
    settings.SANDBOX_ENABLED = True
    monkeypatch.setenv("HUBCONSOLE_SECRET_DEMO_WEBHOOK", SECRET)
    drop(root, "po.x12", x12_850("PO-8001", scenario="rejected"))

    call_command(
        "sandbox_supplier",
        "--once",
        "--root",
        str(root),
        "--suppliers",
        "medline:MEDLINEEDI,cardinal:CARDINALEDI",
        "--receipts-folder",
        str(tmp_path / "receipts"),
        "--min-age",
        "0",
    )

    assert [p.name[:3] for p in out_files(root)] == ["855"]
    assert (root / "cardinal" / "out").is_dir()
