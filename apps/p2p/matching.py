"""Three-way match of an invoice against its PO and receipts (plain Python, no database).

The flow gathers the facts per invoice line (in the PO line's unit) and asks ``match_invoice``;
the benchmark asks it a million times. Tolerances come from master data's tolerance book: per
(level, measure) a percentage and/or an absolute amount, either of which suffices. With no rule
the comparison is exact to the cent (or to the unit for quantities).

What counts as a variance: an invoice price above the PO price (a lower price is in the
hospital's favour and passes), more invoiced in total than was received, a line or header
amount above what the matched quantities come to at the accepted price (the invoice's price
when it is within tolerance, else the PO's; charges such as freight are not on the PO, so they
count against the header amount tolerance), and a header tax that differs
from the lines' tax. Credit memos are checked the other way round: they may not credit more
than was invoiced, at no more than the PO price.
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal

CENT = Decimal("0.01")
EXACT_MONEY = Decimal("0.005")
EXACT_QUANTITY = Decimal("0.00005")

PRICE_VARIANCE = "PRICE_VARIANCE"
QTY_VARIANCE = "QTY_VARIANCE"
AMOUNT_VARIANCE = "AMOUNT_VARIANCE"
TAX_VARIANCE = "TAX_VARIANCE"
CODE_OF = {
    "price": PRICE_VARIANCE,
    "quantity": QTY_VARIANCE,
    "amount": AMOUNT_VARIANCE,
    "tax": TAX_VARIANCE,
}


@dataclass(frozen=True)
class Limit:
    """A tolerance: ``percent`` of the expected value and/or an ``absolute`` difference."""

    percent: Decimal | None = None
    absolute: Decimal | None = None
    name: str = ""

    def allows(self, expected: Decimal, actual: Decimal, exact: Decimal) -> bool:
        difference = abs(actual - expected)
        if difference <= exact:
            return True
        if self.absolute is not None and difference <= self.absolute:
            return True
        return self.percent is not None and difference <= abs(expected) * self.percent / 100

    def describe(self) -> str:
        parts = []
        if self.percent is not None:
            parts.append(f"{self.percent.normalize()}%")
        if self.absolute is not None:
            parts.append(f"{self.absolute}")
        return " or ".join(parts) if parts else "exact"


EXACT = Limit()
Limits = Callable[[str, str], Limit]  # (level, measure) -> limit, for one line's scope


@dataclass(frozen=True)
class LineFacts:
    """One invoice line and its PO line, quantities and prices in the PO line's unit."""

    line_number: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    tax_amount: Decimal
    po_price: Decimal
    ordered: Decimal
    received: Decimal
    invoiced_before: Decimal  # by earlier matched invoices, net of credit memos
    limits: Limits


@dataclass(frozen=True)
class HeaderFacts:
    credit_memo: bool
    lines_amount: Decimal
    charges_amount: Decimal
    tax_amount: Decimal
    total_amount: Decimal
    limits: Limits


@dataclass(frozen=True)
class Variance:
    code: str
    level: str
    measure: str
    line_number: str
    expected: str
    actual: str
    difference: str
    tolerance: str


@dataclass
class MatchResult:
    variances: list[Variance] = field(default_factory=list)
    waiting_for_receipt: bool = False
    lines: list[dict] = field(default_factory=list)
    header: dict = field(default_factory=dict)

    @property
    def matched(self) -> bool:
        return not self.variances and not self.waiting_for_receipt

    def to_dict(self) -> dict:
        return {
            "matched": self.matched,
            "waiting_for_receipt": self.waiting_for_receipt,
            "variances": [asdict(v) for v in self.variances],
            "lines": self.lines,
            "header": self.header,
        }


def _variance(level, measure, line_number, expected, actual, limit: Limit) -> Variance:
    return Variance(
        code=CODE_OF[measure],
        level=level,
        measure=measure,
        line_number=line_number,
        expected=str(expected),
        actual=str(actual),
        difference=str(actual - expected),
        tolerance=limit.describe(),
    )


def match_invoice(lines: list[LineFacts], header: HeaderFacts) -> MatchResult:
    """Compare one invoice (or credit memo) with its PO lines and what was received."""
    result = MatchResult()
    if not header.credit_memo and lines and all(line.received <= 0 for line in lines):
        # Nothing of it has arrived: not a variance yet, the invoice waits for its receipt.
        result.waiting_for_receipt = True
        return result
    expected_lines = Decimal(0)
    line_tax = Decimal(0)
    for line in lines:
        price_limit = line.limits("line", "price")
        quantity_limit = line.limits("line", "quantity")
        amount_limit = line.limits("line", "amount")
        if header.credit_memo:
            may_have = line.invoiced_before  # cannot credit more than was invoiced
        else:
            may_have = line.received - line.invoiced_before
        expected_quantity = min(line.quantity, max(may_have, Decimal(0)))
        # A price within tolerance (or below the PO's) is accepted as invoiced, so the line's
        # amount is expected at that price: one price difference is one variance, not two.
        price_accepted = line.unit_price <= line.po_price or price_limit.allows(
            line.po_price, line.unit_price, EXACT_MONEY
        )
        accepted_price = line.unit_price if price_accepted else line.po_price
        expected_amount = (expected_quantity * accepted_price).quantize(CENT)
        expected_lines += expected_amount
        line_tax += line.tax_amount
        row = {
            "line_number": line.line_number,
            "quantity": str(line.quantity),
            "unit_price": str(line.unit_price),
            "amount": str(line.amount),
            "po_price": str(line.po_price),
            "ordered": str(line.ordered),
            "received": str(line.received),
            "invoiced_before": str(line.invoiced_before),
            "variances": [],
        }
        checks = (
            ("price", price_limit, line.po_price, line.unit_price, EXACT_MONEY),
            ("quantity", quantity_limit, expected_quantity, line.quantity, EXACT_QUANTITY),
            ("amount", amount_limit, expected_amount, line.amount, EXACT_MONEY),
        )
        for measure, limit, expected, actual, exact in checks:
            if measure == "amount" and row["variances"]:
                break  # the line's amount is off because its price or quantity is: one cause
            if actual > expected and not limit.allows(expected, actual, exact):
                variance = _variance("line", measure, line.line_number, expected, actual, limit)
                result.variances.append(variance)
                row["variances"].append(measure)
        result.lines.append(row)

    tax_limit = header.limits("header", "tax")
    if line_tax and not tax_limit.allows(line_tax, header.tax_amount, EXACT_MONEY):
        result.variances.append(
            _variance("header", "tax", "", line_tax, header.tax_amount, tax_limit)
        )
    # Charges the PO did not carry (freight, fuel, handling) are not expected: they pass only
    # within the header amount tolerance.
    expected_total = expected_lines + header.tax_amount
    amount_limit = header.limits("header", "amount")
    over = header.total_amount > expected_total and not amount_limit.allows(
        expected_total, header.total_amount, EXACT_MONEY
    )
    # Reported only when no line explains it: one cause, one exception.
    if over and not any(v.level == "line" for v in result.variances):
        result.variances.append(
            _variance("header", "amount", "", expected_total, header.total_amount, amount_limit)
        )
    result.header = {
        "expected_total": str(expected_total),
        "total_amount": str(header.total_amount),
        "line_tax": str(line_tax),
        "tax_amount": str(header.tax_amount),
    }
    return result
