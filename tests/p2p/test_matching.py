"""The three-way match itself (plain Python): what is a variance and what is not."""

from decimal import Decimal as D

from apps.p2p.matching import EXACT, HeaderFacts, Limit, LineFacts, match_invoice


def limits(rules: dict | None = None):
    rules = rules or {}
    return lambda level, measure: rules.get((level, measure), EXACT)


def line(quantity="10", price="12.50", *, po_price="12.50", received="10", before="0", **kw):
    quantity, price = D(quantity), D(price)
    return LineFacts(
        line_number=kw.get("number", "1"),
        quantity=quantity,
        unit_price=price,
        amount=kw.get("amount", quantity * price),
        tax_amount=D(kw.get("tax", "0")),
        po_price=D(po_price),
        ordered=D(kw.get("ordered", "10")),
        received=D(received),
        invoiced_before=D(before),
        limits=kw.get("limits", limits()),
    )


def header(lines, *, credit=False, charges="0", tax="0", total=None, rules=None):
    lines_amount = sum((x.amount for x in lines), D(0))
    total = D(total) if total is not None else lines_amount + D(charges) + D(tax)
    return HeaderFacts(credit, lines_amount, D(charges), D(tax), total, limits(rules))


def codes(lines, **kw):
    return [v.code for v in match_invoice(lines, header(lines, **kw)).variances]


def test_exact_invoice_matches():
    assert codes([line()]) == []


def test_a_lower_price_is_in_our_favour_and_passes():
    assert codes([line(price="11.00")]) == []


def test_a_price_within_tolerance_is_one_accepted_difference_not_an_amount_variance():
    rules = {("line", "price"): Limit(percent=D("5"))}
    assert codes([line(price="13.00", limits=limits(rules))]) == []
    assert codes([line(price="13.50", limits=limits(rules))]) == ["PRICE_VARIANCE"]


def test_absolute_tolerance_suffices_when_percent_does_not():
    rules = {("line", "price"): Limit(percent=D("1"), absolute=D("1.00"))}
    assert codes([line(price="13.40", limits=limits(rules))]) == []


def test_more_invoiced_than_received_is_a_quantity_variance():
    assert codes([line(quantity="10", received="6")]) == ["QTY_VARIANCE"]


def test_earlier_invoices_use_up_what_was_received():
    assert codes([line(quantity="4", received="10", before="6")]) == []
    assert "QTY_VARIANCE" in codes([line(quantity="5", received="10", before="6")])


def test_nothing_received_means_waiting_not_a_variance():
    result = match_invoice([line(received="0")], header([line(received="0")]))
    assert result.waiting_for_receipt
    assert not result.matched
    assert result.variances == []


def test_unexpected_freight_is_a_header_amount_variance_unless_within_tolerance():
    assert codes([line()], charges="15.00") == ["AMOUNT_VARIANCE"]
    rules = {("header", "amount"): Limit(absolute=D("20"))}
    assert codes([line()], charges="15.00", rules=rules) == []


def test_header_tax_must_agree_with_the_lines():
    assert codes([line(tax="5.00")], tax="5.00") == []
    assert codes([line(tax="5.00")], tax="6.00") == ["TAX_VARIANCE"]


def test_credit_memo_may_not_credit_more_than_was_invoiced():
    assert codes([line(quantity="2", received="10", before="10")], credit=True) == []
    assert "QTY_VARIANCE" in codes([line(quantity="2", before="1")], credit=True)


def test_a_wrong_extension_is_a_line_amount_variance():
    assert codes([line(amount=D("130.00"))]) == ["AMOUNT_VARIANCE"]


def test_the_result_explains_itself():
    result = match_invoice([line(price="13.00")], header([line(price="13.00")]))
    (variance,) = result.variances
    assert (variance.expected, variance.actual, variance.tolerance) == ("12.50", "13.00", "exact")
    assert result.to_dict()["lines"][0]["variances"] == ["price"]
