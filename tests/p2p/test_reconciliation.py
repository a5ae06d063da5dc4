"""Procure-to-pay reconciliation: each job opens exactly the exceptions it should, once.

Documents are built through the real pipeline (POs, receipts and invoices are received and
processed; acknowledgments and ship notices, which have no JSON channel, through their
services), then aged with ``QuerySet.update``.
"""

import datetime
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from apps.connectors.choices import ConnectorKindChoices
from apps.connectors.models import Connector
from apps.exceptions.models import BusinessException
from apps.exceptions.services import exception_ignore, exception_resolve
from apps.p2p import canonical as doc
from apps.p2p.models import Invoice, PurchaseOrder, Receipt
from apps.p2p.reconciliation import reconciliation_run
from apps.p2p.services.orders import acknowledgment_apply, ship_notice_apply
from apps.p2p.tasks import reconcile
from apps.pipeline.models import Transaction
from tests.p2p.conftest import po_document
from tests.p2p.test_flow import invoice, receipt_document, send
from tests.pipeline.builders import receive_json

pytestmark = pytest.mark.django_db(transaction=True)

BOTH_LINES = [
    {"po_line_number": "1", "quantity": "10", "unit": "EA"},
    {"po_line_number": "2", "quantity": "4", "unit": "EA"},
]
NOTHING = {
    "receipts_not_invoiced": 0,
    "invoices_waiting_receipt": 0,
    "shipments_overdue": 0,
    "duplicate_invoices": 0,
}


@pytest.fixture
def channels(network):
    """Two inbound invoice channels (an EDI mailbox and a scanning service) sending canonical
    JSON invoices, processed by the product's invoice processor: match, wait for the receipt,
    be woken."""
    return {
        slug: Connector.objects.create(
            slug=slug,
            name=slug,
            kind=ConnectorKindChoices.WEBHOOK_IN,
            document_type=doc.INVOICE,
            settings=network["procurement_in"].settings,
        )
        for slug in ("supplier-edi", "ap-scanning")
    }


def send_invoice(connector, data: doc.Invoice) -> Transaction:
    data.parties = [doc.Party(role="supplier", code="acme")]  # the procurement system's code
    return send(connector, data.to_dict(), key=f"{connector.slug}:{data.invoice_number}")


def send_order(network, number: str) -> PurchaseOrder:
    tx = send(network["procurement_in"], po_document(number))
    assert tx.status == "completed", tx.last_error
    return PurchaseOrder.objects.get(po_number=number)


def send_receipt(network, receipt_id: str, po: str, lines=None, *, age_days: int) -> Receipt:
    tx = send(network["receipts_in"], receipt_document(receipt_id, po=po, lines=lines))
    assert tx.status == "completed", tx.last_error
    Receipt.objects.filter(receipt_id=receipt_id).update(
        received_date=timezone.localdate() - datetime.timedelta(days=age_days)
    )
    return Receipt.objects.get(receipt_id=receipt_id)


def invoice_for(po: str, number: str, lines=None) -> doc.Invoice:
    data = invoice(number, lines=lines)
    data.po_number = po
    return data


def ago(days: int) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(days=days)


def run() -> dict[str, int]:
    return reconciliation_run(today=timezone.localdate())


def found(code: str) -> list[BusinessException]:
    return list(BusinessException.objects.filter(code_id=code).select_related("team"))


# --- Receipts not invoiced ----------------------------------------------------------------------


def test_receipt_not_invoiced_is_one_exception_per_po_on_its_oldest_uninvoiced_receipt(
    network, channels
):
    send_order(network, "PO-1")
    send_receipt(
        network,
        "GR-1",
        "PO-1",
        [{"po_line_number": "1", "quantity": "6", "unit": "EA"}],
        age_days=20,
    )
    second = send_receipt(
        network,
        "GR-2",
        "PO-1",
        [
            {"po_line_number": "1", "quantity": "4", "unit": "EA"},
            {"po_line_number": "2", "quantity": "4", "unit": "EA"},
        ],
        age_days=15,
    )
    # The six of GR-1 are invoiced (first in, first out): GR-2 is the oldest still waiting.
    billed = send_invoice(
        channels["supplier-edi"], invoice_for("PO-1", "INV-1", [("1", "6", "12.50")])
    )
    assert billed.status == "completed", billed.last_error

    counts = run()

    assert counts == {**NOTHING, "receipts_not_invoiced": 1}
    (exception,) = found("RECEIPT_NOT_INVOICED")
    assert exception.transaction_id == second.source_transaction_id
    assert exception.root_cause_key == "po:PO-1"
    assert exception.team.slug == "accounts_payable"
    assert exception.status == "open"
    assert exception.code.category == "procure_to_pay"
    assert exception.summary == (
        "PO PO-1 from SUP-1: goods received but not invoiced for more than 14 days "
        f"(oldest receipt GR-2 on {second.received_date}): line 1 received 10, invoiced 6; "
        "line 2 received 4, invoiced 0."
    )
    assert exception.details["oldest_receipt"] == "GR-2"
    assert [
        (line["line_number"], line["not_invoiced"], line["oldest_receipt"])
        for line in exception.details["lines"]
    ] == [("1", "4", "GR-2"), ("2", "4", "GR-2")]


def test_receipts_inside_the_window_or_invoiced_are_not_reported(network, channels):
    send_order(network, "PO-1")
    send_receipt(network, "GR-1", "PO-1", BOTH_LINES, age_days=14)  # exactly N days: not yet
    send_order(network, "PO-2")
    send_receipt(network, "GR-2", "PO-2", BOTH_LINES, age_days=60)
    billed = send_invoice(channels["supplier-edi"], invoice_for("PO-2", "INV-2"))
    assert billed.status == "completed", billed.last_error

    assert run() == NOTHING
    assert not found("RECEIPT_NOT_INVOICED")


def test_receipt_days_come_from_the_settings(network, settings):
    settings.HUBCONSOLE = {**settings.HUBCONSOLE, "RECON_RECEIPT_DAYS": 30}
    send_order(network, "PO-1")
    send_receipt(network, "GR-1", "PO-1", BOTH_LINES, age_days=20)

    assert run()["receipts_not_invoiced"] == 0

    settings.HUBCONSOLE = {**settings.HUBCONSOLE, "RECON_RECEIPT_DAYS": 19}
    assert run()["receipts_not_invoiced"] == 1
    assert "more than 19 days" in found("RECEIPT_NOT_INVOICED")[0].summary


# --- Invoices waiting for their receipt --------------------------------------------------------


def test_invoice_waiting_longer_than_n_days_is_gr_missing_on_its_parked_transaction(
    network, channels
):
    send_order(network, "PO-1")
    send_order(network, "PO-2")
    late = send_invoice(channels["supplier-edi"], invoice_for("PO-1", "INV-1"))
    recent = send_invoice(channels["supplier-edi"], invoice_for("PO-2", "INV-2"))
    assert (late.status, recent.status) == ("waiting", "waiting")
    Invoice.objects.filter(invoice_number="INV-1").update(created_at=ago(4))
    Invoice.objects.filter(invoice_number="INV-2").update(created_at=ago(3))  # exactly N days

    counts = run()

    assert counts == {**NOTHING, "invoices_waiting_receipt": 1}
    (exception,) = found("GR_MISSING")
    assert exception.transaction_id == late.pk
    assert exception.root_cause_key == "po:PO-1"
    assert exception.team.slug == "accounts_payable"
    assert exception.correlation_id == late.correlation_id
    assert exception.summary.startswith("Invoice INV-1 from SUP-1 has waited since ")
    assert "for the goods receipt of PO PO-1" in exception.summary
    late.refresh_from_db()
    assert late.status == "waiting"  # still parked: the receipt wakes it


def test_gr_missing_resolves_when_the_receipt_arrives_and_the_invoice_matches(network, channels):
    send_order(network, "PO-1")
    parked = send_invoice(channels["supplier-edi"], invoice_for("PO-1", "INV-1"))
    Invoice.objects.update(created_at=ago(5))
    run()
    (exception,) = found("GR_MISSING")
    assert exception.status == "open"

    send_receipt(network, "GR-1", "PO-1", BOTH_LINES, age_days=0)

    parked.refresh_from_db()
    assert parked.status == "completed", parked.last_error
    assert Invoice.objects.get().status == "matched"
    exception.refresh_from_db()
    assert exception.status == "resolved"
    assert exception.resolution == "Resolved: the transaction succeeded when replayed."
    assert exception.activities.filter(kind="resolved").exists()
    assert run() == NOTHING  # matched: nothing to find any more


# --- Acknowledged but never shipped --------------------------------------------------------------


def acknowledge(po: str, status: str = "accepted") -> None:
    with transaction.atomic():  # the pipeline runs it inside its commit, with the PO locked
        acknowledgment_apply(doc.POAcknowledgment(po_number=po, status=status))


def test_acknowledged_po_with_nothing_shipped_is_shipment_overdue_for_supply_chain(network):
    orders = {n: send_order(network, n) for n in ("PO-1", "PO-2", "PO-3", "PO-4", "PO-5", "PO-6")}
    acknowledge("PO-1")
    acknowledge("PO-2", "changed")
    acknowledge("PO-3")
    acknowledge("PO-4")
    acknowledge("PO-6")
    # PO-5 is never acknowledged; PO-3 has a ship notice; PO-6 was received without one.
    send_receipt(
        network,
        "GR-6",
        "PO-6",
        [{"po_line_number": "2", "quantity": "1", "unit": "EA"}],
        age_days=0,
    )
    carrier = receive_json(network["receipts_in"], {"id": "asn"}, key="asn-carrier")
    with transaction.atomic():
        ship_notice_apply(
            doc.ShipNotice(
                shipment_id="ASN-3",
                po_numbers=["PO-3"],
                lines=[
                    doc.Line(line_number="1", quantity=Decimal(10), unit="EA", po_line_number="1")
                ],
            ),
            supplier_id=network["supplier"].pk,
            transaction_id=carrier.transaction_id,
        )
    PurchaseOrder.objects.update(updated_at=ago(11))
    PurchaseOrder.objects.filter(po_number="PO-4").update(updated_at=ago(10))  # exactly N days

    counts = run()

    assert counts == {**NOTHING, "shipments_overdue": 2}
    exceptions = found("SHIPMENT_OVERDUE")
    assert sorted((e.root_cause_key, e.transaction_id) for e in exceptions) == [
        ("po:PO-1", orders["PO-1"].source_transaction_id),
        ("po:PO-2", orders["PO-2"].source_transaction_id),
    ]
    assert {e.team.slug for e in exceptions} == {"supply_chain"}
    first = next(e for e in exceptions if e.root_cause_key == "po:PO-1")
    assert first.summary.startswith(
        "PO PO-1 was acknowledged (accepted) by SUP-1 but nothing has shipped or been received"
    )
    assert first.details["ack_status"] == "accepted"


# --- Duplicate invoices ------------------------------------------------------------------------


def test_duplicate_invoices_through_other_channels_are_found_on_the_later_transaction(
    network, channels
):
    send_order(network, "PO-1")
    send_receipt(network, "GR-1", "PO-1", BOTH_LINES, age_days=0)
    original = send_invoice(channels["supplier-edi"], invoice_for("PO-1", "INV-0042"))
    same_number = send_invoice(channels["ap-scanning"], invoice_for("PO-1", "inv42"))
    same_content = send_invoice(channels["ap-scanning"], invoice_for("PO-1", "9000"))
    # Neither the same number once normalised (INV420, INV43) nor the same total.
    send_invoice(channels["ap-scanning"], invoice_for("PO-1", "INV-420", [("1", "1", "12.50")]))
    send_invoice(channels["supplier-edi"], invoice_for("PO-1", "INV-0043", [("2", "1", "100")]))
    assert original.status == "completed", original.last_error

    counts = run()

    assert counts == {**NOTHING, "duplicate_invoices": 2}
    by_transaction = {e.transaction_id: e for e in found("DUPLICATE_INVOICE")}
    assert set(by_transaction) == {same_number.pk, same_content.pk}
    by_number = by_transaction[same_number.pk]
    assert by_number.root_cause_key == "invoice:SUP-1:INV42"
    assert by_number.team.slug == "accounts_payable"
    assert by_number.summary == (
        "Invoice inv42 from SUP-1 (through ap-scanning) duplicates invoice INV-0042 (through "
        f"supplier-edi, transaction {original.pk}): the same number once normalised; it must "
        "not be paid twice."
    )
    assert (
        by_number.details.items()
        >= {
            "rule": "number",
            "earlier_invoice_number": "INV-0042",
            "earlier_channel": "supplier-edi",
            "channel": "ap-scanning",
            "first_transaction_id": original.pk,
        }.items()
    )
    by_content = by_transaction[same_content.pk]
    assert by_content.root_cause_key == "invoice:SUP-1:INV42"  # grouped under the original
    assert by_content.details["rule"] == "po_total_date"
    assert by_content.details["earlier_invoice_number"] == "INV-0042"
    assert "the same PO PO-1, total 525.00 and date 2026-11-10" in by_content.summary


def test_an_invoice_and_a_credit_memo_may_share_a_number(network, channels):
    send_order(network, "PO-1")
    send_receipt(network, "GR-1", "PO-1", BOTH_LINES, age_days=0)
    send_invoice(channels["supplier-edi"], invoice_for("PO-1", "INV-7"))
    credit = invoice_for("PO-1", "inv-007", [("1", "1", "12.50")])
    credit.kind = "credit_memo"
    assert send_invoice(channels["ap-scanning"], credit).status == "completed"

    assert run() == NOTHING


# --- Running again, ignoring, the task -----------------------------------------------------------


@pytest.fixture
def one_of_each(network, channels):
    """One finding for every job: PO-1 received long ago and never invoiced, an invoice of PO-2
    sent again through the scanning channel, an invoice of PO-3 waiting for its receipt, and
    PO-4 acknowledged long ago with nothing shipped."""
    send_order(network, "PO-1")
    send_receipt(network, "GR-1", "PO-1", BOTH_LINES, age_days=20)
    send_order(network, "PO-2")
    send_receipt(network, "GR-2", "PO-2", BOTH_LINES, age_days=0)
    send_invoice(channels["supplier-edi"], invoice_for("PO-2", "INV-2"))
    send_invoice(channels["ap-scanning"], invoice_for("PO-2", "inv-02"))
    send_order(network, "PO-3")
    send_invoice(channels["supplier-edi"], invoice_for("PO-3", "INV-3"))
    Invoice.objects.filter(invoice_number="INV-3").update(created_at=ago(4))
    send_order(network, "PO-4")
    acknowledge("PO-4")
    PurchaseOrder.objects.filter(po_number="PO-4").update(updated_at=ago(11))


ONE_OF_EACH = dict.fromkeys(NOTHING, 1)
RECONCILIATION_CODES = [
    "RECEIPT_NOT_INVOICED",
    "GR_MISSING",
    "SHIPMENT_OVERDUE",
    "DUPLICATE_INVOICE",
]


def reconciliation_exceptions() -> dict[int, int]:
    return dict(
        BusinessException.objects.filter(code_id__in=RECONCILIATION_CODES).values_list(
            "pk", "occurrences"
        )
    )


@pytest.mark.usefixtures("one_of_each")
def test_running_again_opens_nothing_new_and_counts_no_occurrence():
    assert run() == ONE_OF_EACH
    opened = reconciliation_exceptions()

    assert run() == NOTHING
    assert reconciliation_exceptions() == opened
    assert set(opened.values()) == {1}


@pytest.mark.usefixtures("one_of_each")
def test_an_ignored_finding_stays_ignored_and_a_resolved_one_still_true_comes_back(ap_analyst):
    run()
    (waiting,) = found("GR_MISSING")
    (overdue,) = found("SHIPMENT_OVERDUE")
    exception_ignore(exception_id=waiting.pk, actor=ap_analyst, reason="Goods are on the way.")
    exception_resolve(exception_id=overdue.pk, actor=ap_analyst, reason="Chased the supplier.")

    assert run() == {**NOTHING, "shipments_overdue": 1}
    assert [e.status for e in found("GR_MISSING")] == ["ignored"]
    assert sorted(e.status for e in found("SHIPMENT_OVERDUE")) == ["open", "resolved"]


def test_receipt_not_invoiced_is_one_open_exception_per_po_when_its_oldest_receipt_changes(
    network, channels
):
    send_order(network, "PO-1")
    first = send_receipt(
        network,
        "GR-1",
        "PO-1",
        [{"po_line_number": "1", "quantity": "5", "unit": "EA"}],
        age_days=20,
    )
    run()
    send_receipt(
        network,
        "GR-2",
        "PO-1",
        [{"po_line_number": "2", "quantity": "4", "unit": "EA"}],
        age_days=16,
    )
    # GR-1 is invoiced now, so GR-2 has become the oldest receipt waiting: still the same PO.
    send_invoice(channels["supplier-edi"], invoice_for("PO-1", "INV-1", [("1", "5", "12.50")]))

    assert run() == NOTHING
    (exception,) = found("RECEIPT_NOT_INVOICED")
    assert exception.transaction_id == first.source_transaction_id


@pytest.mark.usefixtures("one_of_each")
def test_reconcile_task_runs_every_job():
    assert reconcile() == ONE_OF_EACH
    assert sorted(
        BusinessException.objects.filter(
            code_id__in=RECONCILIATION_CODES, status="open"
        ).values_list("code_id", flat=True)
    ) == sorted(RECONCILIATION_CODES)
