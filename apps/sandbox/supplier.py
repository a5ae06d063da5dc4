"""The simulated supplier: a trading partner that answers purchase orders with X12 files.

It works on the folders its own SFTP server (``apps.sandbox.sftp``) serves, one folder per
supplier under a root:

    <root>/<folder>/in/        HubConsole puts 850 purchase orders and 997/999 acks here
    <root>/<folder>/in/done/   inbound files the supplier has read (error/ for unreadable ones)
    <root>/<folder>/out/       the supplier's 855, 856 and 810 files, for HubConsole to pick up
    <root>/<folder>/.supplier-state.json   control numbers and pending work (restart-safe)

It reads X12 with its own small reader and writes its own X12 004010 (it is a separate system,
so it does not use the product's codec). For every PO it plays one scenario (``SCENARIOS``):
855 at once, 856 after ``ship_delay`` seconds, 810 after ``invoice_delay`` seconds. When goods
ship it also plays the hospital's dock: the goods receipt goes to HubConsole as a signed
webhook, every 4th one as a CSV file into the receipts folder instead.

The scenario is picked from a hash of the PO number with configurable weights, unless forced:
a ``REF*ZZ*SCENARIO*<name>`` segment in the 850 wins, then the ``scenario`` argument of
``SupplierSimulator`` (the command's ``--scenario``, default from the environment variable
``HUBCONSOLE_SANDBOX_SUPPLIER_SCENARIO``).

Output files are named ``<set>_<po number>_<interchange control>.x12`` (e.g.
``855_PO-000123_000000007.x12``) and written as ``.<name>.part`` first, then renamed.
"""

import dataclasses
import datetime
import functools
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import httpx

from apps.connectors.signing import SIGNATURE_HEADER, sign
from apps.sandbox.demo_network import (
    DISTRIBUTORS,
    EDI_PARTNERS,
    PART_PREFIX,
    SUPPLIER_NUMBER,
    SUPPLIERS,
    ItemSpec,
    demo_network_plan,
)

logger = logging.getLogger(__name__)

# The demo suppliers that trade by EDI (distributors, who carry many parts under their own
# numbers), with their interchange ids. HubConsole's side is configured for the same three.
EDI_SUPPLIERS = tuple(EDI_PARTNERS)
SUPPLIER_ISA_IDS = EDI_PARTNERS
HUBCONSOLE_ISA_ID = "HUBCONSOLE"
SCENARIO_ENV = "HUBCONSOLE_SANDBOX_SUPPLIER_SCENARIO"

SCENARIOS = (
    "clean",
    "price_change",
    "invoice_price_above",
    "short_ship",
    "partial_two_invoices",
    "duplicate_invoice",
    "credit_memo",
    "rejected",
    "no_ack_ship",
    "tax_mismatch",
    "unbalanced",
)
DEFAULT_WEIGHTS = {
    "clean": 50,
    "price_change": 8,
    "invoice_price_above": 6,
    "short_ship": 6,
    "partial_two_invoices": 6,
    "duplicate_invoice": 4,
    "credit_memo": 4,
    "rejected": 3,
    "no_ack_ship": 3,
    "tax_mismatch": 5,
    "unbalanced": 5,
}
RECEIPT_CSV_HEADER = (
    "receipt_id,po_number,facility,received_date,po_line_number,item,quantity,unit,lot,"
    "serial,expiry"
)
STATE_FILE = ".supplier-state.json"
CENT = Decimal("0.01")
PRICE_CHANGE = Decimal("1.05")  # the supplier's new list price on a changed line
INVOICE_ABOVE = Decimal("1.08")  # the invoice's price on one line, against the PO
MISMATCH_TAX_RATE = Decimal("0.06")  # line tax in tax_mismatch when no tax rate is set
FREIGHT = Decimal("15.00")
SEEN_KEPT = 5000  # PO numbers remembered, so a resent 850 is not played twice
WEBHOOK_ATTEMPTS = 60


class X12Error(ValueError):
    """The file is not X12 the supplier can read."""


# --- Reading X12 --------------------------------------------------------------------------------


@dataclass
class Interchange:
    """One file's segments (elements split), with the first ISA's parties and separators."""

    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    component: str
    segments: list[list[str]]

    def transaction_sets(self) -> list[list[list[str]]]:
        """Each ST...SE, in order."""
        sets, current = [], None
        for segment in self.segments:
            if segment[0] == "ST":
                current = [segment]
            elif current is not None:
                current.append(segment)
                if segment[0] == "SE":
                    sets.append(current)
                    current = None
        return sets


def x12_read(text: str) -> Interchange:
    """Split X12 by the separators its fixed-width ISA declares: the element separator at
    index 3, the component separator (ISA16) at 104 and the segment terminator at 105."""
    start = text.find("ISA")
    if start < 0:
        raise X12Error("No ISA segment.")
    text = text[start:]
    if len(text) < 106:
        raise X12Error("The ISA segment is shorter than 106 characters.")
    element, component, terminator = text[3], text[104], text[105]
    if element.isalnum() or terminator.isalnum():
        raise X12Error("The ISA segment does not declare usable separators.")
    segments = []
    for raw in text.split(terminator):
        # Pretty-printed files put newlines and indentation between segments.
        raw = raw.strip("\r\n").lstrip()
        if raw:
            segments.append(raw.split(element))
    isa = segments[0]
    if len(isa) < 17:
        raise X12Error("The ISA segment has fewer than 16 elements.")
    return Interchange(
        sender_qualifier=isa[5].strip(),
        sender_id=isa[6].strip(),
        receiver_qualifier=isa[7].strip(),
        receiver_id=isa[8].strip(),
        component=component,
        segments=segments,
    )


def _el(segment: list[str], n: int) -> str:
    return segment[n].strip() if len(segment) > n else ""


# --- The purchase order as the supplier understands it ------------------------------------------

VENDOR_PART_QUALIFIERS = ("VP", "VN", "VC", "SK")
GTIN_QUALIFIERS = ("UK", "EN", "UP", "UA")
BUYER_PART_QUALIFIERS = ("BP", "IN")


@dataclass
class OrderLine:
    line_number: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    vendor_part: str = ""
    gtin: str = ""
    gtin_qualifier: str = "UK"
    buyer_part: str = ""
    description: str = ""

    @property
    def item(self) -> str:
        """The part number the supplier (and the receiving dock) knows the line by."""
        return self.vendor_part or self.buyer_part


@dataclass
class Order:
    po_number: str
    po_date: str  # CCYYMMDD as sent
    currency: str = "USD"
    facility: str = ""  # N1*ST N104 (or N102 without an id), echoed on receipts
    ship_to_name: str = ""
    forced_scenario: str = ""  # REF*ZZ*SCENARIO*<name>
    lines: list[OrderLine] = field(default_factory=list)
    # The sender's and receiver's interchange ids: the supplier answers to the sender.
    partner_qualifier: str = "ZZ"
    partner_id: str = ""
    own_qualifier: str = "ZZ"

    def to_state(self) -> dict:
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))

    @classmethod
    def from_state(cls, data: dict) -> "Order":
        lines = [
            OrderLine(
                **{
                    **line,
                    "quantity": Decimal(line["quantity"]),
                    "unit_price": Decimal(line["unit_price"]),
                }
            )
            for line in data["lines"]
        ]
        return cls(**{**data, "lines": lines})


def order_from_850(segments: list[list[str]], interchange: Interchange) -> Order:
    """The PO in one 850 transaction set (ST...SE)."""
    order: Order | None = None
    entity = ""
    for segment in segments:
        tag = segment[0]
        if tag == "BEG":
            order = Order(
                po_number=_el(segment, 3),
                po_date=_el(segment, 5),
                partner_qualifier=interchange.sender_qualifier or "ZZ",
                partner_id=interchange.sender_id,
                own_qualifier=interchange.receiver_qualifier or "ZZ",
            )
        elif order is None:
            continue
        elif tag == "CUR" and _el(segment, 2):
            order.currency = _el(segment, 2)
        elif tag == "REF" and _el(segment, 1) == "ZZ" and _el(segment, 2).upper() == "SCENARIO":
            order.forced_scenario = _el(segment, 3)
        elif tag == "N1":
            entity = _el(segment, 1)
            if entity == "ST":
                order.ship_to_name = _el(segment, 2)
                order.facility = _el(segment, 4) or _el(segment, 2)
        elif tag == "PO1":
            line = OrderLine(
                line_number=_el(segment, 1) or str(len(order.lines) + 1),
                quantity=Decimal(_el(segment, 2) or "0"),
                unit=_el(segment, 3) or "EA",
                unit_price=Decimal(_el(segment, 4) or "0"),
            )
            for n in range(6, len(segment) - 1, 2):
                qualifier, value = _el(segment, n), _el(segment, n + 1)
                if not value:
                    continue
                if qualifier in VENDOR_PART_QUALIFIERS and not line.vendor_part:
                    line.vendor_part = value
                elif qualifier in GTIN_QUALIFIERS and not line.gtin:
                    line.gtin, line.gtin_qualifier = value, qualifier
                elif qualifier in BUYER_PART_QUALIFIERS and not line.buyer_part:
                    line.buyer_part = value
            order.lines.append(line)
        elif tag == "PID" and order.lines and not order.lines[-1].description:
            order.lines[-1].description = _el(segment, 5)
    if order is None or not order.po_number:
        raise X12Error("The 850 has no BEG segment with a PO number.")
    if not order.lines:
        raise X12Error(f"The 850 for {order.po_number} has no PO1 lines.")
    return order


# --- The supplier's catalogue -------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogueEntry:
    part: str
    description: str
    lot: bool  # ships with a lot number and expiry
    serial: bool  # each unit has a serial number


def _tracking(item: ItemSpec) -> tuple[bool, bool]:
    # Implants and sterile goods carry lots on the ASN; serialised implants carry serials.
    return item.implant or "sterile" in item.name.lower(), item.serial


@functools.cache
def supplier_parts(key: str) -> tuple[tuple[str, ItemSpec], ...]:
    """(part number, item) for every part demo supplier ``key`` sells: what it makes, and for
    distributors what they carry under their own numbers (the rule of the demo network's
    vendor parts, ``demo_network._catalogue``)."""
    parts = []
    for item in demo_network_plan().items:
        if item.maker == key:
            parts.append((item.part_number, item))
        elif (
            key in DISTRIBUTORS
            and not item.implant
            and item.number % 3 == 0
            and DISTRIBUTORS[(item.number // 3) % len(DISTRIBUTORS)] == key
        ):
            parts.append((f"{PART_PREFIX[key]}{item.number:06d}", item))
    return tuple(parts)


@functools.cache
def supplier_catalogue(key: str) -> dict[str, CatalogueEntry]:
    if key not in SUPPLIER_NUMBER:
        return {}
    return {
        part: CatalogueEntry(part, item.name, *_tracking(item))
        for part, item in supplier_parts(key)
    }


# --- What a scenario does -----------------------------------------------------------------------


@dataclass
class AckLine:
    status: str  # IA accepted, IC changed, IR rejected
    quantity: Decimal
    unit_price: Decimal


@dataclass
class InvoicePlan:
    kind: str = "invoice"  # or credit_memo
    lines: list[tuple[int, Decimal, Decimal]] = field(default_factory=list)  # index, qty, price
    freight: Decimal = Decimal(0)
    line_tax_rate: Decimal = Decimal(0)
    tax_delta: Decimal = Decimal(0)  # header TXI minus the sum of line tax
    total_delta: Decimal = Decimal(0)  # TDS minus lines + charges + tax
    resend_of: int | None = None  # the same invoice again (same number, new interchange)
    credits: int | None = None  # the invoice this credit memo refers to


@dataclass
class Plan:
    ack_type: str  # BAK02: AT accepted, AC accepted with changes, RJ rejected
    acks: list[AckLine]
    shipments: list[dict[int, Decimal]]  # line index -> quantity shipped
    invoices: list[InvoicePlan]


def _hash(*parts: str) -> int:
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def scenario_pick(po_number: str, weights: dict[str, float]) -> str:
    """The scenario for a PO: the same one every time for the same number and weights."""
    chosen = [(name, weight) for name, weight in weights.items() if weight > 0]
    total = sum(weight for _, weight in chosen)
    point = _hash("scenario", po_number) / 2**64 * total
    for name, weight in chosen:
        point -= weight
        if point < 0:
            return name
    return chosen[-1][0]


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _higher(price: Decimal, factor: Decimal) -> Decimal:
    return max(_cents(price * factor), _cents(price) + CENT)


def scenario_plan(order: Order, scenario: str, *, tax_rate: Decimal = Decimal(0)) -> Plan:
    """What the supplier acknowledges, ships and invoices for ``order`` under ``scenario``."""
    if scenario not in SCENARIOS:
        raise ValueError(f"Unknown scenario {scenario!r}; choose from {SCENARIOS}.")
    lines = order.lines
    # The one line a scenario touches: picked by hash, preferring lines of more than one unit.
    several = [n for n, line in enumerate(lines) if line.quantity > 1] or list(range(len(lines)))
    pick = several[_hash("line", order.po_number, scenario) % len(several)]
    acks = [AckLine("IA", line.quantity, line.unit_price) for line in lines]
    everything = {n: line.quantity for n, line in enumerate(lines)}

    def invoice(quantities: dict[int, Decimal], **changes) -> InvoicePlan:
        prices = {n: acks[n].unit_price for n in quantities}
        prices.update(changes.pop("prices", {}))
        billed = [(n, q, prices[n]) for n, q in quantities.items() if q > 0]
        return InvoicePlan(lines=billed, line_tax_rate=tax_rate, **changes)

    if scenario == "rejected":
        rejected = [AckLine("IR", line.quantity, line.unit_price) for line in lines]
        return Plan("RJ", rejected, [], [])
    if scenario == "no_ack_ship":
        return Plan("AT", acks, [], [])
    if scenario == "price_change":
        acks[pick] = AckLine(
            "IC", lines[pick].quantity, _higher(lines[pick].unit_price, PRICE_CHANGE)
        )
        return Plan("AC", acks, [everything], [invoice(everything)])
    if scenario == "invoice_price_above":
        above = {pick: _higher(lines[pick].unit_price, INVOICE_ABOVE)}
        return Plan("AT", acks, [everything], [invoice(everything, prices=above)])
    if scenario == "short_ship":
        ordered = lines[pick].quantity
        short = {**everything, pick: ordered - max(Decimal(1), ordered // 4)}
        return Plan("AT", acks, [{n: q for n, q in short.items() if q > 0}], [invoice(everything)])
    if scenario == "partial_two_invoices":
        first = {n: q - q // 2 for n, q in everything.items()}
        second = {n: q // 2 for n, q in everything.items() if q // 2 > 0}
        if not second and len(lines) > 1:  # single units only: split by lines instead
            half = len(lines) // 2
            first = {n: q for n, q in everything.items() if n < half}
            second = {n: q for n, q in everything.items() if n >= half}
        if not second:
            return Plan("AT", acks, [everything], [invoice(everything)])
        return Plan("AT", acks, [first, second], [invoice(first), invoice(second)])
    if scenario == "duplicate_invoice":
        return Plan("AT", acks, [everything], [invoice(everything), InvoicePlan(resend_of=0)])
    if scenario == "credit_memo":
        one = min(Decimal(1), lines[pick].quantity)
        credit = invoice({pick: one}, kind="credit_memo", credits=0)
        return Plan("AT", acks, [everything], [invoice(everything), credit])
    if scenario == "tax_mismatch":
        mismatched = invoice(everything)
        mismatched.line_tax_rate = tax_rate or MISMATCH_TAX_RATE
        line_tax = sum(
            (_cents(q * p * mismatched.line_tax_rate) for _, q, p in mismatched.lines), Decimal(0)
        )
        mismatched.tax_delta = max(_cents(line_tax / 10), Decimal("1.00"))
        return Plan("AT", acks, [everything], [mismatched])
    if scenario == "unbalanced":
        # Freight is charged, but the total forgets it.
        return Plan(
            "AT", acks, [everything], [invoice(everything, freight=FREIGHT, total_delta=-FREIGHT)]
        )
    return Plan("AT", acks, [everything], [invoice(everything)])  # clean


# --- Writing X12 --------------------------------------------------------------------------------

ELEMENT, COMPONENT, TERMINATOR = "*", ">", "~"
FUNCTIONAL_IDS = {"855": "PR", "856": "SH", "810": "IN"}
_UNSAFE = re.compile(r"[*>~\r\n]")


def _clean(value) -> str:
    return _UNSAFE.sub(" ", str(value))


def _num(value: Decimal) -> str:
    """An X12 R (decimal) value: no exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    return text or "0"


def _price(value: Decimal) -> str:
    """A price with at least cents (12.50, 0.0525)."""
    return _num(value) if value.normalize().as_tuple().exponent < -2 else _money(value)


def _money(value: Decimal) -> str:
    return format(_cents(value), "f")


def _segment(*elements) -> str:
    values = [_clean(e) for e in elements]
    while len(values) > 1 and values[-1] == "":
        values.pop()  # trailing empty elements are left off
    return ELEMENT.join(values) + TERMINATOR + "\n"


def x12_interchange(
    *,
    set_id: str,
    body: list[tuple],
    sender: tuple[str, str],
    receiver: tuple[str, str],
    control: int,
    when: datetime.datetime,
) -> str:
    """One interchange, one group, one transaction set ``set_id`` around ``body`` segments.

    ``sender``/``receiver`` are (qualifier, id). The ISA is fixed width (106 characters with
    its terminator); SE01, GE01 and IEA01 count what they enclose.
    """
    isa = ELEMENT.join(
        [
            "ISA",
            "00",
            " " * 10,
            "00",
            " " * 10,
            sender[0].ljust(2)[:2],
            sender[1].ljust(15)[:15],
            receiver[0].ljust(2)[:2],
            receiver[1].ljust(15)[:15],
            when.strftime("%y%m%d"),
            when.strftime("%H%M"),
            "U",
            "00401",
            f"{control:09d}",
            "0",
            "P",
            COMPONENT,
        ]
    )
    if len(isa) != 105:  # a broken ISA must never be written
        raise X12Error(f"The ISA would be {len(isa) + 1} characters, not 106: {isa!r}")
    set_control = f"{control:04d}"
    transaction = [("ST", set_id, set_control), *body]
    transaction.append(("SE", len(transaction) + 1, set_control))
    return "".join(
        [
            isa + TERMINATOR + "\n",
            _segment(
                "GS",
                FUNCTIONAL_IDS[set_id],
                sender[1],
                receiver[1],
                when.strftime("%Y%m%d"),
                when.strftime("%H%M"),
                control,
                "X",
                "004010",
            ),
            *(_segment(*segment) for segment in transaction),
            _segment("GE", 1, control),
            _segment("IEA", 1, f"{control:09d}"),
        ]
    )


def _item_ids(line: OrderLine) -> list[str]:
    ids = []
    if line.vendor_part:
        ids += ["VP", line.vendor_part]
    if line.gtin:
        ids += [line.gtin_qualifier, line.gtin]
    if line.buyer_part:
        ids += ["BP", line.buyer_part]
    return ids


def _terms(key: str) -> tuple:
    """ITD from the demo supplier's payment terms (NET30, 2/10NET30)."""
    terms = next((t for k, _, _, _, t, _, _ in SUPPLIERS if k == key), "NET30")
    match = re.fullmatch(r"(?:(\d+)/(\d+))?NET(\d+)", terms)
    if not match:
        return ("ITD", "01", "3", "", "", "", "", "30")
    discount, discount_days, net = match.groups()
    if discount:
        return ("ITD", "08", "3", discount, "", discount_days, "", net)
    return ("ITD", "01", "3", "", "", "", "", net)


# --- The simulator ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SupplierConfig:
    """One simulated supplier: its folder under the root and its interchange id.

    ``key`` is the demo network's supplier key (default: the folder name); it gives the
    supplier's name, payment terms and catalogue (which parts ship with lots or serials).
    """

    folder: str
    isa_id: str
    key: str = ""
    isa_qualifier: str = "ZZ"

    @property
    def demo_key(self) -> str:
        return self.key or self.folder

    @property
    def name(self) -> str:
        return next(
            (name for key, name, *_ in SUPPLIERS if key == self.demo_key), self.folder.upper()
        )

    @property
    def prefix(self) -> str:
        return PART_PREFIX.get(self.demo_key, re.sub(r"[^A-Z0-9]", "", self.folder.upper())[:3])


def suppliers_parse(spec: str) -> list[SupplierConfig]:
    """``folder:ISA_ID,folder:ISA_ID`` (the command's --suppliers)."""
    configs = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        folder, _, isa_id = part.partition(":")
        if not folder or not isa_id:
            raise ValueError(f"{part!r} is not folder:ISA_ID")
        configs.append(SupplierConfig(folder=folder.strip(), isa_id=isa_id.strip()))
    return configs


def weights_parse(spec: str) -> dict[str, float]:
    """``clean=50,price_change=8`` over the defaults; unknown names are refused."""
    weights = dict(DEFAULT_WEIGHTS)
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, value = part.partition("=")
        if name not in SCENARIOS:
            raise ValueError(f"Unknown scenario {name!r}; choose from {SCENARIOS}.")
        weights[name] = float(value)
    return weights


def write_atomically(path: Path, text: str) -> None:
    """Write ``.<name>.part`` beside ``path``, then rename: readers never see half a file."""
    partial = path.with_name(f".{path.name}.part")
    with open(partial, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


def _safe_name(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", value)[:80] or "unnamed"


class SupplierSimulator:
    """Plays the suppliers in ``suppliers``; ``step()`` does whatever is due and returns what
    it did, one line per action (tests call it with their own ``now``; the command every
    second)."""

    def __init__(
        self,
        *,
        root: Path,
        suppliers: list[SupplierConfig],
        hubconsole_id: str = HUBCONSOLE_ISA_ID,
        base_url: str = "",
        receipt_webhook: str = "inventory-receipts",
        secret: str = "",
        receipts_folder: Path | None = None,
        ship_delay: float = 5.0,
        invoice_delay: float = 10.0,
        weights: dict[str, float] | None = None,
        scenario: str = "",
        tax_rate: Decimal = Decimal(0),
        min_age: float = 0.0,
        retry_seconds: float = 5.0,
        http: httpx.Client | None = None,
        catalogue: Callable[[SupplierConfig], dict[str, CatalogueEntry]] | None = None,
    ):
        if scenario and scenario not in SCENARIOS:
            raise ValueError(f"Unknown scenario {scenario!r}; choose from {SCENARIOS}.")
        self.root = Path(root)
        self.suppliers = list(suppliers)
        self.hubconsole_id = hubconsole_id
        self.base_url = base_url.rstrip("/")
        self.receipt_webhook = receipt_webhook
        self.secret = secret
        self.receipts_folder = Path(receipts_folder) if receipts_folder else None
        self.ship_delay = ship_delay
        self.invoice_delay = invoice_delay
        self.weights = weights or DEFAULT_WEIGHTS
        self.scenario = scenario
        self.tax_rate = tax_rate
        self.min_age = min_age
        self.retry_seconds = retry_seconds
        self.http = http or httpx.Client(timeout=10)
        self.catalogue = catalogue or (lambda config: supplier_catalogue(config.demo_key))
        for config in self.suppliers:
            for sub in ("in/done", "in/error", "out"):
                (self.root / config.folder / sub).mkdir(parents=True, exist_ok=True)
        if self.receipts_folder:
            self.receipts_folder.mkdir(parents=True, exist_ok=True)

    # --- state ---

    def state_path(self, config: SupplierConfig) -> Path:
        return self.root / config.folder / STATE_FILE

    def state(self, config: SupplierConfig) -> dict:
        path = self.state_path(config)
        if path.exists():
            return json.loads(path.read_text())
        return {"counters": {}, "orders": {}, "actions": [], "seen": [], "sequence": 0}

    def _save(self, config: SupplierConfig, state: dict) -> None:
        write_atomically(self.state_path(config), json.dumps(state, indent=1, sort_keys=True))

    @staticmethod
    def _next(state: dict, counter: str, wrap: int = 999_999_999) -> int:
        value = state["counters"].get(counter, 0) % wrap + 1
        state["counters"][counter] = value
        return value

    # --- the loop ---

    def step(self, now: float | None = None) -> list[str]:
        now = time.time() if now is None else now
        done: list[str] = []
        for config in self.suppliers:
            state = self.state(config)
            done += self._intake(config, state, now)
            done += self._work(config, state, now)
        return done

    def _intake(self, config: SupplierConfig, state: dict, now: float) -> list[str]:
        inbox = self.root / config.folder / "in"
        files = sorted(
            p
            for p in inbox.iterdir()
            if p.is_file()
            and not p.name.startswith(".")
            and p.suffix.lower() in (".x12", ".edi")
            and time.time() - p.stat().st_mtime >= self.min_age
        )
        done = []
        for path in files:
            try:
                interchange = x12_read(path.read_text(encoding="utf-8-sig", errors="replace"))
                orders = [
                    order_from_850(segments, interchange)
                    for segments in interchange.transaction_sets()
                    if _el(segments[0], 1) == "850"
                ]
            except (X12Error, ArithmeticError, ValueError) as error:
                logger.warning("supplier %s: cannot read %s: %s", config.folder, path.name, error)
                path.replace(inbox / "error" / path.name)
                done.append(f"{config.folder}: {path.name} unreadable ({error}), moved to error/")
                continue
            for order in orders:
                if order.po_number in state["seen"]:
                    done.append(f"{config.folder}: PO {order.po_number} seen before, ignored")
                    continue
                done.append(self._accept_order(config, state, order, now))
            self._save(config, state)
            path.replace(inbox / "done" / path.name)
            if not orders:
                done.append(f"{config.folder}: {path.name} (no 850) moved to done/")
        return done

    def _accept_order(self, config: SupplierConfig, state: dict, order: Order, now: float) -> str:
        scenario = order.forced_scenario if order.forced_scenario in SCENARIOS else ""
        scenario = scenario or self.scenario or scenario_pick(order.po_number, self.weights)
        plan = scenario_plan(order, scenario, tax_rate=self.tax_rate)
        state["orders"][order.po_number] = {
            "order": order.to_state(),
            "scenario": scenario,
            "accepted_at": now,
            "invoices": {},
        }
        state["seen"] = [*state["seen"][-SEEN_KEPT:], order.po_number]
        ship, bill = self.ship_delay, max(self.invoice_delay, self.ship_delay)
        self._schedule(state, now, order.po_number, "ack", 0)
        for n in range(len(plan.shipments)):
            self._schedule(state, now + ship + n * self.invoice_delay, order.po_number, "ship", n)
        for n in range(len(plan.invoices)):
            self._schedule(
                state, now + bill + n * self.invoice_delay, order.po_number, "invoice", n
            )
        return f"{config.folder}: PO {order.po_number} received, scenario {scenario}"

    @staticmethod
    def _schedule(state: dict, due: float, po: str, do: str, n: int, **extra) -> None:
        state["sequence"] += 1
        state["actions"].append(
            {"due": due, "seq": state["sequence"], "po": po, "do": do, "n": n, **extra}
        )

    def _work(self, config: SupplierConfig, state: dict, now: float) -> list[str]:
        done = []
        while True:
            due = [a for a in state["actions"] if a["due"] <= now]
            if not due:
                break
            action = min(due, key=lambda a: (a["due"], a["seq"]))
            state["actions"].remove(action)
            handler = getattr(self, f"_do_{action['do']}")
            done.append(handler(config, state, action, now))
            self._retire(state)
            self._save(config, state)
        return done

    @staticmethod
    def _retire(state: dict) -> None:
        """Forget orders with nothing left to do (their PO numbers stay in ``seen``)."""
        pending = {a["po"] for a in state["actions"]}
        for po in [po for po in state["orders"] if po not in pending]:
            del state["orders"][po]

    # --- documents ---

    def _context(self, state: dict, action: dict) -> tuple[dict, Order, Plan]:
        record = state["orders"][action["po"]]
        order = Order.from_state(record["order"])
        return record, order, scenario_plan(order, record["scenario"], tax_rate=self.tax_rate)

    def _send(
        self,
        config: SupplierConfig,
        state: dict,
        order: Order,
        set_id: str,
        body: list[tuple],
        now: float,
    ) -> str:
        control = self._next(state, "control")
        text = x12_interchange(
            set_id=set_id,
            body=body,
            sender=(config.isa_qualifier, config.isa_id),
            # Answered to HubConsole's configured id, as a partner profile would have it.
            receiver=(order.partner_qualifier, self.hubconsole_id),
            control=control,
            when=datetime.datetime.fromtimestamp(now),
        )
        name = f"{set_id}_{_safe_name(order.po_number)}_{control:09d}.x12"
        write_atomically(self.root / config.folder / "out" / name, text)
        return name

    def _parties(self, config: SupplierConfig, order: Order, own: str = "SE") -> list[tuple]:
        """Ship-to as the PO named it, and the supplier as seller (or SF ship-from)."""
        return [
            ("N1", "ST", order.ship_to_name, "92" if order.facility else "", order.facility),
            ("N1", own, config.name, "91", config.isa_id),
        ]

    def _do_ack(self, config: SupplierConfig, state: dict, action: dict, now: float) -> str:
        record, order, plan = self._context(state, action)
        today = datetime.date.fromtimestamp(now)
        ship_on = (today + datetime.timedelta(days=2)).strftime("%Y%m%d")
        sales_order = f"{config.prefix}-SO-{self._next(state, 'sales_order'):06d}"
        body = [
            (
                "BAK",
                "00",
                plan.ack_type,
                order.po_number,
                order.po_date,
                "",
                "",
                "",
                sales_order,
                today.strftime("%Y%m%d"),
            ),
            ("CUR", "SE", order.currency),
            *self._parties(config, order),
        ]
        for line, ack in zip(order.lines, plan.acks, strict=True):
            body.append(
                (
                    "PO1",
                    line.line_number,
                    _num(line.quantity),
                    line.unit,
                    _price(ack.unit_price),
                    "",
                    *_item_ids(line),
                )
            )
            if line.description:
                body.append(("PID", "F", "", "", "", line.description))
            body.append(("ACK", ack.status, _num(ack.quantity), line.unit, "068", ship_on))
        body.append(("CTT", len(order.lines)))
        name = self._send(config, state, order, "855", body, now)
        return f"{config.folder}: wrote {name} (855 {plan.ack_type}, {record['scenario']})"

    def _catalogue_entry(self, config: SupplierConfig, line: OrderLine) -> CatalogueEntry | None:
        return self.catalogue(config).get(line.vendor_part)

    def _do_ship(self, config: SupplierConfig, state: dict, action: dict, now: float) -> str:
        record, order, plan = self._context(state, action)
        shipped = plan.shipments[action["n"]]
        today = datetime.date.fromtimestamp(now)
        number = self._next(state, "shipment")
        shipment_id = f"{config.prefix}-ASN-{number:06d}"
        expiry = today + datetime.timedelta(days=730)
        body = [
            ("BSN", "00", shipment_id, today.strftime("%Y%m%d"), "1200", "0001"),
            ("HL", "1", "", "S"),
            ("TD5", "B", "2", "UPSN", "M", "UPS GROUND"),
            ("REF", "BM", f"BOL{number:08d}"),
            ("DTM", "011", today.strftime("%Y%m%d")),
            *self._parties(config, order, own="SF"),
            ("HL", "2", "1", "O"),
            ("PRF", order.po_number, "", "", order.po_date),
        ]
        hl = 2
        receipt_lines = []
        for index, quantity in shipped.items():
            line = order.lines[index]
            tracking = self._catalogue_entry(config, line)
            lot = ""
            if tracking and tracking.lot:
                lot = f"L{_hash('lot', order.po_number, line.line_number, shipment_id) % 10**6:06d}"
            hl += 1
            body += [
                ("HL", hl, "2", "I"),
                ("LIN", line.line_number, *_item_ids(line)),
                ("SN1", "", _num(quantity), line.unit, "", _num(line.quantity), line.unit),
            ]
            if line.description:
                body.append(("PID", "F", "", "", "", line.description))
            if lot:
                body += [("REF", "LT", lot), ("DTM", "036", expiry.strftime("%Y%m%d"))]
            base = {
                "po_line_number": line.line_number,
                "item": line.item,
                "unit": line.unit,
                "lot": lot,
                "serial": "",
                "expiry": expiry.isoformat() if lot else "",
            }
            if tracking and tracking.serial and quantity == quantity.to_integral_value():
                # One receipt line per serialised unit.
                serials = [
                    f"SN{_hash(shipment_id, line.line_number, str(unit)) % 10**9:09d}"
                    for unit in range(int(quantity))
                ]
                receipt_lines += [{**base, "quantity": "1", "serial": sn} for sn in serials]
            else:
                receipt_lines.append({**base, "quantity": _num(quantity)})
        body.append(("CTT", hl))
        name = self._send(config, state, order, "856", body, now)
        receipts = self._next(state, "receipt")
        receipt_id = f"RCV-{config.prefix}-{receipts:06d}"
        receipt = {
            "event_id": f"receipt-{receipt_id}",
            "receipt_id": receipt_id,
            "po_number": order.po_number,
            "facility": order.facility,
            "received_date": today.isoformat(),
            "lines": receipt_lines,
        }
        channel = "csv" if receipts % 4 == 0 and self.receipts_folder else "webhook"
        self._schedule(
            state, now, order.po_number, "receipt", receipts, receipt=receipt, channel=channel
        )
        record.setdefault("shipments", []).append(shipment_id)
        return f"{config.folder}: wrote {name} (856 {shipment_id}, {record['scenario']})"

    def _do_receipt(self, config: SupplierConfig, state: dict, action: dict, now: float) -> str:
        receipt = action["receipt"]
        if action["channel"] == "csv":
            rows = [RECEIPT_CSV_HEADER]
            for line in receipt["lines"]:
                values = [
                    receipt["receipt_id"],
                    receipt["po_number"],
                    receipt["facility"],
                    receipt["received_date"],
                    line["po_line_number"],
                    line["item"],
                    line["quantity"],
                    line["unit"],
                    line["lot"],
                    line["serial"],
                    line["expiry"],
                ]
                rows.append(",".join(_csv_value(v) for v in values))
            name = f"receipt_{_safe_name(receipt['receipt_id'])}.csv"
            write_atomically(self.receipts_folder / name, "\r\n".join(rows) + "\r\n")
            return f"{config.folder}: wrote receipt {name}"
        if not self.base_url:
            return f"{config.folder}: receipt {receipt['receipt_id']} dropped (no HubConsole URL)"
        body = json.dumps(receipt).encode()
        url = f"{self.base_url}/in/webhooks/{self.receipt_webhook}"
        attempts = action.get("attempts", 0) + 1
        try:
            response = self.http.post(
                url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: sign(self.secret, body),
                },
            )
            status = response.status_code
        except httpx.HTTPError as error:
            status, response = None, error
        if status is not None and status < 300:
            return f"{config.folder}: posted receipt {receipt['receipt_id']} (HTTP {status})"
        if status is not None and 400 <= status < 500 and status not in (408, 425, 429):
            logger.error(
                "supplier %s: receipt %s refused: HTTP %s",
                config.folder,
                receipt["receipt_id"],
                status,
            )
            return (
                f"{config.folder}: receipt {receipt['receipt_id']} refused (HTTP {status}), dropped"
            )
        if attempts >= WEBHOOK_ATTEMPTS:
            return f"{config.folder}: receipt {receipt['receipt_id']} undeliverable, dropped"
        self._schedule(
            state,
            now + self.retry_seconds,
            action["po"],
            "receipt",
            action["n"],
            receipt=receipt,
            channel="webhook",
            attempts=attempts,
        )
        # Keep the order while a retry is pending (it is retired when nothing refers to it).
        what = f"HTTP {status}" if status else type(response).__name__
        return f"{config.folder}: receipt {receipt['receipt_id']} not delivered ({what}), retrying"

    def _do_invoice(self, config: SupplierConfig, state: dict, action: dict, now: float) -> str:
        record, order, plan = self._context(state, action)
        n = action["n"]
        invoice = plan.invoices[n]
        issued = record["invoices"]
        if invoice.resend_of is not None:
            # The same invoice again: same number and content, in a new interchange.
            original = issued[str(invoice.resend_of)]
            issued[str(n)] = original
            invoice = plan.invoices[invoice.resend_of]
        else:
            counter = "credit_memo" if invoice.kind == "credit_memo" else "invoice"
            kind_prefix = "CM" if invoice.kind == "credit_memo" else "INV"
            number = f"{config.prefix}-{kind_prefix}-{self._next(state, counter):06d}"
            issued[str(n)] = {
                "number": number,
                "date": datetime.date.fromtimestamp(now).strftime("%Y%m%d"),
            }
        number, date = issued[str(n)]["number"], issued[str(n)]["date"]
        body = [
            (
                "BIG",
                date,
                number,
                order.po_date,
                order.po_number,
                "",
                "",
                "CR" if invoice.kind == "credit_memo" else "",
            ),
            ("CUR", "SE", order.currency),
        ]
        if invoice.credits is not None:
            body.append(("REF", "OI", issued[str(invoice.credits)]["number"]))
        number_ = SUPPLIER_NUMBER.get(config.demo_key, 1)
        body += [
            ("N1", "RI", f"{config.name}, remittance", "91", config.isa_id),
            ("N3", f"PO BOX {70000 + 131 * number_}"),
            ("N4", "CHICAGO", "IL", "60693", "US"),
            *self._parties(config, order)[::-1],
            _terms(config.demo_key),
        ]
        lines_total = line_tax = Decimal(0)
        for index, quantity, price in invoice.lines:
            line = order.lines[index]
            body.append(
                (
                    "IT1",
                    line.line_number,
                    _num(quantity),
                    line.unit,
                    _price(price),
                    "",
                    *_item_ids(line),
                )
            )
            amount = _cents(quantity * price)
            lines_total += amount
            if invoice.line_tax_rate:  # in the IT1 loop TXI comes before PID
                tax = _cents(amount * invoice.line_tax_rate)
                line_tax += tax
                body.append(("TXI", "ST", _money(tax), _num(invoice.line_tax_rate * 100)))
            if line.description:
                body.append(("PID", "F", "", "", "", line.description))
        header_tax = line_tax + invoice.tax_delta
        total = lines_total + invoice.freight + header_tax + invoice.total_delta
        body.append(("TDS", int(_cents(total) * 100)))
        if header_tax or invoice.line_tax_rate:
            body.append(("TXI", "ST", _money(header_tax)))
        if invoice.freight:
            freight = int(invoice.freight * 100)  # SAC05 has two implied decimals
            body.append(("SAC", "C", "D240", "", "", freight, *[""] * 9, "FREIGHT"))
        body.append(("CTT", len(invoice.lines)))
        name = self._send(config, state, order, "810", body, now)
        what = "credit memo" if invoice.kind == "credit_memo" else "invoice"
        return f"{config.folder}: wrote {name} (810 {what} {number}, {record['scenario']})"


def _csv_value(value: str) -> str:
    text = str(value)
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text
