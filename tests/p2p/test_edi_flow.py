"""Supplier EDI through the pipeline: interchanges split, acknowledged, and each set's
business outcome coded (without SFTP: the interchange is received as a file would be)."""

import json

import pytest

from apps.connectors.choices import ConnectorKindChoices, MessageFormatChoices
from apps.connectors.models import Connector
from apps.edi.models import TradingPartner
from apps.exceptions.models import BusinessException
from apps.masterdata.models import ExternalSystem
from apps.p2p.models import Invoice, PurchaseOrder
from apps.pipeline.choices import WorkStageChoices as Stage
from apps.pipeline.models import Transaction
from apps.pipeline.services import work_drain
from tests.p2p.conftest import mapped, po_document
from tests.p2p.test_flow import receipt_document, send
from tests.pipeline.builders import receive_json

pytestmark = pytest.mark.django_db(transaction=True)


def isa(sender: str = "ACMEEDI", control: str = "000000101") -> str:
    return (
        f"ISA*00*          *00*          *ZZ*{sender:<15}*ZZ*{'HUBCONSOLE':<15}"
        f"*261110*1200*U*00401*{control}*0*P*>~"
    )


def interchange(
    set_id: str,
    *bodies: list[str],
    sender: str = "ACMEEDI",
    control: str = "000000101",
    se_counts: dict[int, int] | None = None,
    iea_control: str | None = None,
) -> bytes:
    functional = {"855": "PR", "856": "SH", "810": "IN"}[set_id]
    lines = [isa(sender, control), f"GS*{functional}*{sender}*HUBCONSOLE*20261110*1200*7*X*004010~"]
    for number, body in enumerate(bodies, 1):
        st = f"{number:04d}"
        count = (se_counts or {}).get(number, len(body) + 2)
        lines += [f"ST*{set_id}*{st}~", *(f"{s}~" for s in body), f"SE*{count}*{st}~"]
    lines += [f"GE*{len(bodies)}*7~", f"IEA*1*{iea_control or control}~"]
    return ("\n".join(lines) + "\n").encode()


def ack_855(po="PO-1", kind="AT", line_code="IA"):
    return [
        f"BAK*00*{kind}*{po}*20261103",
        "PO1*1*10*EA*12.50**VP*AC-1",
        f"ACK*{line_code}*10*EA",
        "PO1*2*4*EA*100.00**VP*AC-2",
        f"ACK*{line_code}*4*EA",
        "CTT*2",
    ]


def invoice_810(number="INV-1", po="PO-1", lines=(("1", "10", "12.50", "AC-1"),)):
    body = [f"BIG*20261110*{number}**{po}"]
    total = 0
    for n, qty, price, part in lines:
        body.append(f"IT1*{n}*{qty}*EA*{price}**VP*{part}")
        total += int(qty) * float(price)
    body += [f"TDS*{round(total * 100)}", f"CTT*{len(lines)}"]
    return body


@pytest.fixture
def edi(network):
    outbound = Connector.objects.create(
        slug="acme-edi-out",
        name="Acme EDI out",
        kind=ConnectorKindChoices.SFTP_OUT,
        settings={"host": "127.0.0.1", "username": "u", "path": "/in", "host_key": "k"},
    )
    inbound = Connector.objects.create(
        slug="acme-edi-in",
        name="Acme EDI in",
        kind=ConnectorKindChoices.FILE_IN,
        format=MessageFormatChoices.X12,
        document_type="x12.interchange",
        settings={"path": "/nonexistent", "erp_vouchers": "erp-vouchers"},
    )
    x12 = ExternalSystem.objects.create(code="X12", name="X12 partners")
    mapped(x12, network["supplier"], "ZZ:ACMEEDI")
    TradingPartner.objects.create(name="Acme", isa_id="ACMEEDI", outbound=outbound)
    send(network["procurement_in"], po_document())
    return {**network, "edi_in": inbound, "edi_out": outbound}


def receive(edi, raw: bytes, key: str) -> Transaction:
    parent = receive_json(edi["edi_in"], raw=raw, key=key)
    for _ in range(3):  # the batch, then its children
        work_drain(stage=Stage.PROCESS)
    return Transaction.objects.get(pk=parent.transaction_id)


def children(parent: Transaction) -> list[Transaction]:
    return list(Transaction.objects.filter(parent=parent, direction="in").order_by("id"))


def acks() -> list[str]:
    return [
        bytes(t.raw).decode()
        for t in Transaction.objects.filter(document_type="x12.acknowledgment.out").order_by("id")
    ]


def test_an_accepted_855_acknowledges_the_order_and_is_answered_with_a_997(edi):
    parent = receive(edi, interchange("855", ack_855()), "f1")

    assert parent.status == "completed"
    (child,) = children(parent)
    assert (child.document_type, child.status) == ("p2p.po_acknowledgment", "completed")
    assert bytes(child.raw).startswith(b"ISA*00*")  # each child stands alone
    order = PurchaseOrder.objects.get()
    assert (order.status, order.ack_status) == ("acknowledged", "accepted")
    (ack,) = acks()
    assert "ST*997*" in ack
    assert "AK1*PR*7~" in ack
    assert "AK9*A*1*1*1~" in ack
    assert "*ZZ*ACMEEDI        *" in ack  # addressed back to the partner


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (ack_855(kind="RJ", line_code="IR"), "PO_ACK_REJECTED"),
        (ack_855(kind="AC", line_code="IC"), "PO_ACK_CHANGED"),
        (ack_855(po="PO-404"), "PO_NOT_FOUND"),
    ],
)
def test_855_outcomes_are_coded(edi, body, code):
    parent = receive(edi, interchange("855", body), "f1")

    (child,) = children(parent)
    assert (child.status, child.last_error_code) == ("exception", code)


def test_a_ship_notice_with_an_item_not_on_the_po_is_a_mismatch(edi):
    body = [
        "BSN*00*ASN-1*20261105*1200",
        "HL*1**S",
        "HL*2*1*O",
        "PRF*PO-1",
        "HL*3*2*I",
        "LIN*1*VP*ZZ-999",
        "SN1*1*5*EA",
    ]
    parent = receive(edi, interchange("856", body), "f1")

    (child,) = children(parent)
    assert child.last_error_code == "ASN_RECEIPT_MISMATCH"


def test_an_invoice_line_that_is_not_on_the_po_is_an_unknown_item(edi):
    lines = (("1", "10", "12.50", "AC-1"), ("9", "1", "5.00", "ZZ-999"))
    send(edi["receipts_in"], receipt_document())
    parent = receive(edi, interchange("810", invoice_810(lines=lines)), "f1")

    (child,) = children(parent)
    assert child.last_error_code == "ITEM_UNKNOWN"
    exception = BusinessException.objects.get(transaction=child)
    assert exception.root_cause_key == "item:SUP-1:ZZ-999"


def test_an_invoice_before_its_receipt_waits_and_matches_when_the_receipt_arrives(edi):
    parent = receive(edi, interchange("810", invoice_810()), "f1")
    (child,) = children(parent)
    assert child.status == "waiting"
    assert Invoice.objects.get().status == "waiting_receipt"
    assert not BusinessException.objects.filter(status="open").exists()

    send(edi["receipts_in"], receipt_document())
    work_drain(stage=Stage.PROCESS)

    child.refresh_from_db()
    assert child.status == "completed", child.last_error
    assert Invoice.objects.get().status == "matched"
    assert child.events.filter(kind="woken").exists()
    (voucher,) = Transaction.objects.filter(document_type="p2p.ap_voucher.erp")
    assert json.loads(bytes(voucher.raw))["total_amount"] == "125.00"


def test_a_broken_set_is_rejected_in_the_997_and_the_good_one_goes_on(edi):
    raw = interchange("855", ack_855(), ack_855(po="PO-1"), se_counts={2: 99})

    parent = receive(edi, raw, "f1")

    assert (parent.status, parent.last_error_code) == ("exception", "SCHEMA_INVALID")
    assert "SE" in parent.last_error
    assert len(children(parent)) == 1
    (ack,) = acks()
    assert "AK5*R" in ack
    assert "AK9*P*2*2*1~" in ack


def test_a_broken_envelope_is_rejected_with_a_ta1_and_nothing_split_out(edi):
    parent = receive(edi, interchange("855", ack_855(), iea_control="000000999"), "f1")

    assert (parent.status, parent.last_error_code) == ("exception", "ENVELOPE_REJECTED")
    assert children(parent) == []
    (ta1,) = acks()
    assert "TA1*000000101*261110*1200*R*001~" in ta1


def test_a_partner_nobody_mapped_is_an_unknown_supplier_for_the_steward(edi):
    parent = receive(edi, interchange("810", invoice_810(), sender="STRANGER"), "f1")

    (child,) = children(parent)
    assert child.last_error_code == "SUPPLIER_UNKNOWN"
    exception = BusinessException.objects.get(transaction=child)
    assert exception.root_cause_key == "supplier:X12:ZZ:STRANGER"
    assert acks() == []  # no trading partner: nobody to acknowledge to


def test_the_same_interchange_again_is_not_processed_twice(edi):
    raw = interchange("855", ack_855())
    receive(edi, raw, "f1")
    again = receive(edi, raw.replace(b"*261110*1200*", b"*261111*0900*"), "f2")

    assert children(again) == []
    assert again.status == "completed"
    duplicate = Transaction.objects.get(document_type="p2p.po_acknowledgment")
    assert duplicate.events.filter(kind="duplicate_suppressed").exists()
    assert len(acks()) == 1  # its 997 went out the first time
