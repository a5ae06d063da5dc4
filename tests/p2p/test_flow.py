"""The procure-to-pay steps through the real pipeline stages (process, then what is queued)."""

import datetime
import json
from decimal import Decimal

import pytest
from django.db import transaction

from apps.core.errors import HubError
from apps.exceptions.models import BusinessException
from apps.masterdata.models import ToleranceRule
from apps.p2p import canonical as doc
from apps.p2p.models import APVoucher, Invoice, PurchaseOrder
from apps.p2p.services.invoices import invoice_apply
from apps.pipeline.choices import WorkStageChoices as Stage
from apps.pipeline.models import Transaction
from apps.pipeline.services import work_drain
from tests.p2p.conftest import po_document
from tests.pipeline.builders import receive_json

pytestmark = pytest.mark.django_db(transaction=True)


def send(connector, document: dict, key: str | None = None) -> Transaction:
    received = receive_json(connector, document, key=key or document.get("event_id"))
    work_drain(stage=Stage.PROCESS)
    return Transaction.objects.get(pk=received.transaction_id)


def outbound(document_type: str) -> list[Transaction]:
    return list(Transaction.objects.filter(direction="out", document_type=document_type))


def open_codes() -> list[tuple[str, str]]:
    return sorted(
        BusinessException.objects.filter(status="open").values_list("code_id", "root_cause_key")
    )


def test_purchase_order_is_checked_stored_and_queued_for_the_erp_in_its_codes(network):
    tx = send(network["procurement_in"], po_document())

    assert tx.status == "completed", tx.last_error
    order = PurchaseOrder.objects.get(po_number="PO-1")
    assert order.status == "validated"
    assert order.total_amount == Decimal("525.00")
    assert [line.item.code for line in order.lines.all()] == ["ITEM-1", "ITEM-2"]
    (posting,) = outbound("p2p.purchase_order.erp")
    body = json.loads(bytes(posting.raw))
    assert (body["supplier"], body["legal_entity"], body["cost_center"]) == (
        "V0001",
        "1000",
        "6100",
    )
    assert body["facility"] == "BU10"
    assert [line["item"] for line in body["lines"]] == ["E-1", "E-2"]
    assert body["total_amount"] == "525.00"
    assert posting.connector == network["targets"]["erp_orders"]
    assert {(k.kind, k.value) for k in tx.keys.all()} >= {("po_number", "PO-1")}


def test_unknown_supplier_and_item_are_one_exception_naming_both(network):
    document = po_document(supplier="nobody")
    document["lines"][1]["item"] = "p-404"

    tx = send(network["procurement_in"], document)

    assert tx.status == "exception"
    (exception,) = BusinessException.objects.filter(transaction=tx)
    assert exception.code_id == "SUPPLIER_UNKNOWN"
    assert exception.root_cause_key == "supplier:PROCUREMENT:nobody"
    assert exception.details["also_missing"][0]["key"] == "item:PROCUREMENT:p-404"
    assert not PurchaseOrder.objects.exists()
    assert not outbound("p2p.purchase_order.erp")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"cost_center": "CC-NONE"}, "COST_CENTER_INVALID"),
        ({"facility": "ELSEWHERE"}, "FACILITY_UNKNOWN"),
        ({"lines": []}, "SCHEMA_INVALID"),
        ({"po_date": "02/11/2026"}, "SCHEMA_INVALID"),
    ],
)
def test_bad_orders_stop_with_their_code(network, change, code):
    tx = send(network["procurement_in"], po_document(**change))

    assert tx.status == "exception"
    assert tx.last_error_code == code


def test_supplier_not_enabled_for_the_entity(network):
    network["supplier"].enablements.all().delete()

    tx = send(network["procurement_in"], po_document())

    assert tx.last_error_code == "SUPPLIER_NOT_ENABLED"


def test_budget_of_the_cost_center_is_checked_over_the_year(network):
    network["center"].annual_budget = Decimal("800.00")
    network["center"].save()
    assert send(network["procurement_in"], po_document("PO-1")).status == "completed"

    tx = send(network["procurement_in"], po_document("PO-2"))

    assert tx.last_error_code == "BUDGET_EXCEEDED"
    assert "275.00 of its 2026 budget 800.00 left" in tx.last_error


def test_erp_code_missing_for_a_record_is_a_mapping_exception_replayable_after_the_fix(
    network, steward
):
    from apps.masterdata.models import CrossReference

    CrossReference.objects.filter(external_system__code="ERP", entity_type="supplier").delete()
    tx = send(network["procurement_in"], po_document())
    assert tx.last_error_code == "VALUE_MAPPING_MISSING"
    (exception,) = BusinessException.objects.filter(transaction=tx)
    assert exception.root_cause_key == "supplier:ERP:->SUP-1"
    assert not PurchaseOrder.objects.exists()  # the savepoint undid the order


def receipt_document(receipt_id="GR-1", po="PO-1", lines=None) -> dict:
    return {
        "event_id": f"evt-{receipt_id}",
        "receipt_id": receipt_id,
        "po_number": po,
        "facility": "HOSP",
        "received_date": "2026-11-05",
        "lines": lines or [{"po_line_number": "1", "quantity": "10", "unit": "EA"}],
    }


def test_receipt_adds_received_quantities_in_the_po_unit_and_posts_to_the_erp(network):
    send(network["procurement_in"], po_document())
    lines = [{"po_line_number": "1", "quantity": "1", "unit": "BX", "lot": "L1"}]

    tx = send(network["receipts_in"], receipt_document(lines=lines))

    assert tx.status == "completed", tx.last_error
    order = PurchaseOrder.objects.get()
    assert order.lines.get(line_number="1").received_quantity == 10  # a box of ten
    assert order.status == "partly_received"
    (posting,) = outbound("p2p.receipt.erp")
    assert json.loads(bytes(posting.raw))["lines"][0] == {
        "po_line_number": "1",
        "item": "E-1",
        "quantity": "10",
        "unit": "EA",
    }


def test_receipt_problems_are_coded(network):
    send(network["procurement_in"], po_document())
    unknown = send(network["receipts_in"], receipt_document("GR-1", po="PO-404"))
    no_conversion = send(
        network["receipts_in"],
        receipt_document("GR-2", lines=[{"po_line_number": "2", "quantity": "1", "unit": "BX"}]),
    )
    over = send(
        network["receipts_in"],
        receipt_document("GR-3", lines=[{"po_line_number": "2", "quantity": "5", "unit": "EA"}]),
    )

    assert unknown.last_error_code == "PO_NOT_FOUND"
    assert no_conversion.last_error_code == "UOM_CONVERSION_MISSING"
    assert over.last_error_code == "OVER_RECEIPT"
    # An over-receipt is still a receipt: the goods are there.
    assert PurchaseOrder.objects.get().lines.get(line_number="2").received_quantity == 5


def test_receipt_csv_is_split_into_one_child_per_receipt(network):
    send(network["procurement_in"], po_document())
    csv_text = (
        "receipt_id,po_number,facility,received_date,po_line_number,item,quantity,unit\n"
        "GR-7,PO-1,HOSP,2026-11-05,1,AC-1,4,EA\n"
        "GR-7,PO-1,HOSP,2026-11-05,2,AC-2,4,EA\n"
        "GR-8,PO-1,HOSP,2026-11-06,1,AC-1,6,EA\n"
    )
    parent = receive_json(network["receipts_csv"], raw=csv_text.encode(), key="file-1")

    work_drain(stage=Stage.PROCESS)
    work_drain(stage=Stage.PROCESS)

    children = Transaction.objects.filter(parent_id=parent.transaction_id)
    assert sorted(children.values_list("document_id", flat=True)) == ["GR-7", "GR-8"]
    assert set(children.values_list("status", flat=True)) == {"completed"}
    order = PurchaseOrder.objects.get()
    assert order.status == "received"
    assert [line.received_quantity for line in order.lines.all()] == [10, 4]


def invoice(number="INV-1", lines=None, **fields) -> doc.Invoice:
    lines = lines or [("1", "10", "12.50"), ("2", "4", "100.00")]
    data = doc.Invoice(
        invoice_number=number,
        invoice_date=datetime.date(2026, 11, 10),
        po_number="PO-1",
        lines=[
            doc.Line(line_number=n, quantity=Decimal(q), unit="EA", unit_price=Decimal(p))
            for n, q, p in lines
        ],
        **fields,
    )
    if data.total_amount is None:
        data.total_amount = sum(line.extended_amount for line in data.lines)
    return data


def match(network, data: doc.Invoice, key: str = "inv-tx"):
    carrier = receive_json(network["receipts_in"], {"id": key}, key=key)
    with transaction.atomic():  # the pipeline runs it inside its commit
        return invoice_apply(
            data,
            supplier_id=network["supplier"].pk,
            supplier_code="SUP-1",
            transaction_id=carrier.transaction_id,
            correlation_id="c",
            channel="test",
            settings=network["receipts_in"].settings,
        )


@pytest.fixture
def received_order(network):
    send(network["procurement_in"], po_document())
    lines = [
        {"po_line_number": "1", "quantity": "10", "unit": "EA"},
        {"po_line_number": "2", "quantity": "4", "unit": "EA"},
    ]
    send(network["receipts_in"], receipt_document(lines=lines))
    return PurchaseOrder.objects.get()


def test_invoice_that_matches_becomes_an_ap_voucher(network, received_order):
    applied = match(network, invoice())

    assert applied.error is None
    assert not applied.waiting
    (delivery,) = applied.deliveries
    body = json.loads(delivery.body)
    assert body["voucher_id"] == "AP-SUP-1-INV-1"
    assert body["total_amount"] == "525.00"
    assert body["supplier"] == "V0001"
    assert Invoice.objects.get().status == "matched"
    assert APVoucher.objects.get().status == "queued"
    line = received_order.lines.get(line_number="1")
    assert line.invoiced_quantity == 10


@pytest.mark.parametrize(
    ("lines", "fields", "code"),
    [
        ([("1", "10", "13.50"), ("2", "4", "100.00")], {}, "PRICE_VARIANCE"),
        ([("1", "12", "12.50"), ("2", "4", "100.00")], {}, "QTY_VARIANCE"),
        (
            None,
            {
                "total_amount": Decimal("600.00"),
                "allowances_charges": [
                    doc.AllowanceCharge("C", Decimal("75.00"), "D240", "Freight")
                ],
            },
            "AMOUNT_VARIANCE",
        ),
    ],
)
def test_invoice_variances_are_coded(network, received_order, lines, fields, code):
    applied = match(network, invoice(lines=lines, **fields))

    assert applied.error.code == code
    assert not applied.deliveries
    assert Invoice.objects.get().status == "exception"
    assert received_order.lines.get(line_number="1").invoiced_quantity == 0


def test_an_invoice_that_does_not_add_up_is_refused_unbalanced(network, received_order):
    with pytest.raises(HubError) as caught:
        match(network, invoice(total_amount=Decimal("500.00")))

    assert caught.value.code == "INVOICE_UNBALANCED"
    assert not Invoice.objects.exists()


def test_tax_variance_when_header_tax_differs_from_the_lines(network, received_order):
    data = invoice()
    data.lines[0].tax_amount = Decimal("5.00")
    data.tax_amount = Decimal("9.00")
    data.total_amount = Decimal("534.00")

    assert match(network, data).error.code == "TAX_VARIANCE"


def test_a_tolerance_rule_lets_a_small_price_difference_through(network, received_order, steward):
    ToleranceRule.objects.create(
        name="Acme 5%",
        supplier=network["supplier"],
        level="line",
        measure="price",
        percent=Decimal("5"),
        status="approved",
        effective_from=datetime.date(2024, 1, 1),
        created_by=steward,
    )
    for level in ("line", "header"):
        ToleranceRule.objects.create(
            name=f"Acme {level} amount 5%",
            supplier=network["supplier"],
            level=level,
            measure="amount",
            percent=Decimal("5"),
            status="approved",
            effective_from=datetime.date(2024, 1, 1),
            created_by=steward,
        )
    applied = match(network, invoice(lines=[("1", "10", "13.00"), ("2", "4", "100.00")]))

    assert applied.error is None


def test_the_same_invoice_number_again_is_a_duplicate(network, received_order):
    match(network, invoice(), key="first")

    applied = match(network, invoice(), key="second")

    assert applied.error.code == "DUPLICATE_INVOICE"
    assert Invoice.objects.count() == 1


def test_partial_receipts_and_several_invoices(network):
    send(network["procurement_in"], po_document())
    send(
        network["receipts_in"],
        receipt_document("GR-1", lines=[{"po_line_number": "1", "quantity": "6", "unit": "EA"}]),
    )
    first = match(network, invoice("INV-1", lines=[("1", "6", "12.50")]), key="a")
    too_many = match(network, invoice("INV-2", lines=[("1", "6", "12.50")]), key="b")

    assert first.error is None
    assert too_many.error.code == "QTY_VARIANCE"


def test_credit_memo_credits_what_was_invoiced_and_not_more(network, received_order):
    match(network, invoice("INV-1"), key="a")

    credit = match(
        network, invoice("CM-1", lines=[("1", "1", "12.50")], kind="credit_memo"), key="b"
    )
    too_much = match(
        network, invoice("CM-2", lines=[("1", "20", "12.50")], kind="credit_memo"), key="c"
    )

    assert credit.error is None
    assert json.loads(credit.deliveries[0].body)["voucher_id"] == "AP-SUP-1-CM-1-CR"
    assert received_order.lines.get(line_number="1").invoiced_quantity == 9
    assert too_much.error.code == "QTY_VARIANCE"
