"""Matching stored invoices again in bulk: after a tolerance rule, after receipts, in order."""

import datetime
from decimal import Decimal

import pytest
from django.db import transaction

from apps.accounts import roles
from apps.core.errors import HubError
from apps.masterdata.models import ToleranceRule
from apps.masterdata.services.mappings import tolerance_approve, tolerance_propose
from apps.p2p.models import (
    APVoucher,
    Invoice,
    InvoiceLine,
    PurchaseOrder,
    PurchaseOrderLine,
)
from apps.p2p.services.invoices import invoice_apply
from apps.p2p.services.rematch import invoices_rematch
from apps.pipeline.models import Transaction
from tests.conftest import _persona
from tests.p2p.conftest import po_document
from tests.p2p.test_flow import invoice, match, receipt_document, send

pytestmark = pytest.mark.django_db(transaction=True)


def replay(network, data, transaction_id: int):
    """What replaying the invoice's own transaction does: ``invoice_apply`` again."""
    with transaction.atomic():
        return invoice_apply(
            data,
            supplier_id=network["supplier"].pk,
            supplier_code="SUP-1",
            transaction_id=transaction_id,
            correlation_id="c",
            channel="test",
            settings=network["receipts_in"].settings,
        )


@pytest.fixture
def second_steward(db):
    """Approves what erin proposes (maker-checker)."""
    return _persona("sam", roles.DATA_STEWARD)


def both_lines_received(network):
    send(network["procurement_in"], po_document())
    lines = [
        {"po_line_number": "1", "quantity": "10", "unit": "EA"},
        {"po_line_number": "2", "quantity": "4", "unit": "EA"},
    ]
    send(network["receipts_in"], receipt_document(lines=lines))


def test_rematch_matches_a_price_variance_invoice_once_a_tolerance_rule_is_approved(
    network, steward, second_steward
):
    both_lines_received(network)
    data = invoice(lines=[("1", "10", "13.00"), ("2", "4", "100.00")])  # 4 % over on line 1
    assert match(network, data).error.code == "PRICE_VARIANCE"
    stored = Invoice.objects.get()

    before = invoices_rematch()

    assert before.counts == {"exception": 1}
    assert not before.matched_transaction_ids
    rule = tolerance_propose(
        actor=steward,
        rule=ToleranceRule(
            name="Acme line price 5%",
            supplier=network["supplier"],
            level="line",
            measure="price",
            percent=Decimal(5),
            effective_from=datetime.date(2026, 1, 1),
        ),
    )
    tolerance_approve(rule_id=rule.pk, actor=second_steward)

    after = invoices_rematch()

    assert after.counts == {"matched": 1}
    assert after.matched_transaction_ids == [stored.source_transaction_id]
    stored.refresh_from_db()
    assert stored.match_result["matched"] is True
    assert stored.match_result["variances"] == []
    # Nothing consumed or posted yet: the status waits for the replay, which does both once.
    assert stored.status == "exception"
    assert not APVoucher.objects.exists()
    line = PurchaseOrderLine.objects.get(line_number="1")
    assert line.invoiced_quantity == 0
    assert replay(network, data, stored.source_transaction_id).error is None
    stored.refresh_from_db()
    line.refresh_from_db()
    assert stored.status == "matched"
    assert line.invoiced_quantity == 10
    assert APVoucher.objects.get().invoice == stored


def test_rematch_counts_an_accepted_variance_as_matching_as_the_replay_does(network, ap_analyst):
    both_lines_received(network)
    data = invoice(lines=[("1", "10", "13.00"), ("2", "4", "100.00")])
    assert match(network, data).error.code == "PRICE_VARIANCE"
    stored = Invoice.objects.get()
    # What invoice_variance_accept records before it replays the invoice.
    Invoice.objects.filter(pk=stored.pk).update(
        accepted_variances=stored.match_result["variances"],
        accepted_by=ap_analyst,
        accepted_reason="Agreed surcharge",
    )

    outcome = invoices_rematch()

    assert outcome.counts == {"matched": 1}
    assert outcome.matched_transaction_ids == [stored.source_transaction_id]
    assert replay(network, data, stored.source_transaction_id).error is None
    stored.refresh_from_db()
    assert stored.status == "matched"
    assert APVoucher.objects.get().match_outcome == "variance_accepted"


def test_rematch_matches_a_waiting_invoice_once_its_receipt_arrived(network):
    send(network["procurement_in"], po_document())
    assert match(network, invoice()).waiting
    stored = Invoice.objects.get()
    assert stored.status == "waiting_receipt"
    assert invoices_rematch().counts == {"waiting_receipt": 1}
    lines = [
        {"po_line_number": "1", "quantity": "10", "unit": "EA"},
        {"po_line_number": "2", "quantity": "4", "unit": "EA"},
    ]
    send(network["receipts_in"], receipt_document(lines=lines))

    outcome = invoices_rematch()

    assert outcome.counts == {"matched": 1}
    assert outcome.matched_transaction_ids == [stored.source_transaction_id]
    stored.refresh_from_db()
    assert stored.match_result["matched"] is True
    assert stored.match_result["lines"][0]["received"] == "10.0000"


def test_rematch_shares_a_received_quantity_between_invoices_in_invoice_date_order(network):
    send(network["procurement_in"], po_document())
    # Stored first (lower id) but dated later: the date decides who gets the goods.
    later = invoice("INV-LATE", lines=[("1", "6", "12.50")])
    later.invoice_date = datetime.date(2026, 11, 12)
    earlier = invoice("INV-EARLY", lines=[("1", "6", "12.50")])
    earlier.invoice_date = datetime.date(2026, 11, 10)
    assert match(network, later, key="late").waiting
    assert match(network, earlier, key="early").waiting
    send(
        network["receipts_in"],
        receipt_document(lines=[{"po_line_number": "1", "quantity": "6", "unit": "EA"}]),
    )
    first = Invoice.objects.get(invoice_number="INV-EARLY")
    second = Invoice.objects.get(invoice_number="INV-LATE")
    assert first.pk > second.pk

    outcome = invoices_rematch()

    assert outcome.counts == {"matched": 1, "exception": 1}
    assert outcome.matched_transaction_ids == [first.source_transaction_id]
    second.refresh_from_db()
    assert second.status == "exception"
    (variance,) = [v for v in second.match_result["variances"] if v["level"] == "line"][:1]
    assert variance["code"] == "QTY_VARIANCE"
    assert second.match_result["lines"][0]["invoiced_before"] == "6.0000"  # the earlier's 6
    # The replays, in the order given, decide the same.
    assert replay(network, earlier, first.source_transaction_id).error is None
    assert replay(network, later, second.source_transaction_id).error.code == "QTY_VARIANCE"
    assert PurchaseOrderLine.objects.get(line_number="1").invoiced_quantity == 6


def test_rematch_a_second_time_rewrites_nothing_and_refuses_matched_invoices(network):
    send(network["procurement_in"], po_document())
    match(network, invoice())
    invoices_rematch()

    again = invoices_rematch()

    assert again.counts == {"waiting_receipt": 1}
    assert again.changed == 0
    assert invoices_rematch(invoice_ids=[]).examined == 0
    assert invoices_rematch(invoice_ids=[Invoice.objects.get().pk]).examined == 1
    with pytest.raises(HubError) as refused:
        invoices_rematch(statuses=["matched"])
    assert refused.value.code == "REMATCH_STATUS_INVALID"


def stored_invoices(network, count: int) -> list[int]:
    """``count`` invoices in exception, one per PO of three lines, inserted in bulk; one line
    each is invoiced in boxes (so unit conversions are asked for too)."""
    carrier = Transaction.objects.create(
        connector=network["receipts_in"],
        direction="in",
        format="json",
        document_type="p2p.invoice",
        status="exception",
        content_sha256="0" * 64,
        raw=b"{}",
        raw_size=2,
        correlation_id="bulk",
        received_at=datetime.datetime(2026, 11, 10, tzinfo=datetime.UTC),
        updated_at=datetime.datetime(2026, 11, 10, tzinfo=datetime.UTC),
    )
    common = {"source_transaction": carrier, "correlation_id": "bulk"}
    orders = PurchaseOrder.objects.bulk_create(
        PurchaseOrder(
            po_number=f"PO-B{n}",
            status="received",
            supplier=network["supplier"],
            legal_entity=network["entity"],
            facility=network["hospital"],
            cost_center=network["center"],
            po_date=datetime.date(2026, 11, 1),
            total_amount=Decimal("300.00"),
            **common,
        )
        for n in range(count)
    )
    po_lines = PurchaseOrderLine.objects.bulk_create(
        PurchaseOrderLine(
            purchase_order=order,
            line_number=str(k),
            item=network["items"][k - 1],
            unit="EA",
            quantity=Decimal(10),
            unit_price=Decimal(10),
            received_quantity=Decimal(10),
        )
        for order in orders
        for k in (1, 2, 3)
    )
    invoices = Invoice.objects.bulk_create(
        Invoice(
            supplier=network["supplier"],
            invoice_number=f"INV-B{n}",
            status="exception",
            purchase_order=order,
            invoice_date=datetime.date(2026, 11, 10 + n % 5),
            lines_amount=Decimal("300.00"),
            total_amount=Decimal("300.00"),
            **common,
        )
        for n, order in enumerate(orders)
    )
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=row,
            line_number=po_line.line_number,
            po_line=po_line,
            unit="BX" if po_line.line_number == "1" else "EA",
            quantity=Decimal(1) if po_line.line_number == "1" else Decimal(10),
            unit_price=Decimal(100) if po_line.line_number == "1" else Decimal(10),
            amount=Decimal("100.00"),
        )
        for row, order_lines in zip(
            invoices, [po_lines[i : i + 3] for i in range(0, len(po_lines), 3)], strict=True
        )
        for po_line in order_lines
    )
    return [row.pk for row in invoices]


@pytest.mark.parametrize("count", [4, 40])
def test_rematch_asks_a_bounded_number_of_queries_per_batch(
    network, count, django_assert_max_num_queries
):
    stored_invoices(network, count)

    # Once per run: the invoices to take and the tolerance rules; per batch: the invoices
    # (locked), their lines with the PO lines, the unit conversions (2) and the update, plus
    # the batch's BEGIN and COMMIT.
    with django_assert_max_num_queries(2 + 7):
        outcome = invoices_rematch(batch_size=count)

    assert outcome.counts == {"matched": count}
    assert outcome.batches == 1
    with django_assert_max_num_queries(2 + 7 * 4):
        assert invoices_rematch(batch_size=count // 4).batches == 4
