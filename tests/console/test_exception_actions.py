"""Hold, reject and edit-and-replay from the console, through the real pipeline and p2p flow."""

import datetime
import json
import os
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse

from apps.connectors.choices import ConnectorKindChoices
from apps.connectors.models import Connector
from apps.core.errors import HubError
from apps.exceptions.models import BusinessException
from apps.p2p import canonical as doc
from apps.p2p.models import Invoice, PurchaseOrder
from apps.pipeline.choices import WorkStageChoices as Stage
from apps.pipeline.models import Transaction, TransactionEdit
from apps.pipeline.services import (
    exception_replay,
    transaction_edit_and_replay,
    work_drain,
)
from tests.console.test_browser import CHROMIUM, page, shot, sign_in  # noqa: F401 (fixture)
from tests.p2p.conftest import network, po_document  # noqa: F401 (fixture)
from tests.pipeline.builders import receive_json

pytestmark = pytest.mark.django_db(transaction=True)


def send(connector, document: dict, key: str) -> Transaction:
    received = receive_json(connector, document, key=key)
    work_drain(stage=Stage.PROCESS)
    return Transaction.objects.get(pk=received.transaction_id)


def only_exception(tx: Transaction) -> BusinessException:
    return BusinessException.objects.get(transaction=tx, status__in=["open", "in_progress"])


def act(client, item, action: str, text: str = ""):
    return client.post(
        reverse("console:exception_action", args=[item.pk]),
        {"action": action, "text": text},
        follow=True,
    )


@pytest.fixture
def variance(network):  # noqa: F811
    """An invoice 2.00 per unit above its PO price: stopped with PRICE_VARIANCE."""
    send(network["procurement_in"], po_document(), key="po")
    receipt = {
        "receipt_id": "GR-1",
        "po_number": "PO-1",
        "received_date": "2026-11-05",
        "facility": "HOSP",
        "lines": [
            {"po_line_number": "1", "quantity": "10", "unit": "EA"},
            {"po_line_number": "2", "quantity": "4", "unit": "EA"},
        ],
    }
    send(network["receipts_in"], receipt, key="gr")
    channel = Connector.objects.create(
        slug="ap-scanning",
        name="AP scanning",
        kind=ConnectorKindChoices.WEBHOOK_IN,
        document_type=doc.INVOICE,
        settings=network["procurement_in"].settings,
    )
    lines = [("1", "10", "14.50"), ("2", "4", "100.00")]
    data = doc.Invoice(
        invoice_number="INV-1",
        invoice_date=datetime.date(2026, 11, 10),
        po_number="PO-1",
        parties=[doc.Party(role="supplier", code="acme")],
        lines=[
            doc.Line(line_number=n, quantity=Decimal(q), unit="EA", unit_price=Decimal(p))
            for n, q, p in lines
        ],
    )
    data.total_amount = sum(line.extended_amount for line in data.lines)
    tx = send(channel, data.to_dict(), key="inv-1")
    assert tx.last_error_code == "PRICE_VARIANCE", tx.last_error
    return tx


# --- Hold -------------------------------------------------------------------------------------


def test_hold_parks_the_exception_blocks_replay_and_release_lets_it_go(
    client, ap_analyst, variance
):
    item = only_exception(variance)
    client.force_login(ap_analyst)

    shown = act(client, item, "hold", "Supplier is sending a credit note")

    item.refresh_from_db()
    assert "On hold" in shown.content.decode()
    assert item.is_held
    assert item.is_open
    assert item.hold_reason == "Supplier is sending a credit note"
    assert "on hold" in client.get(reverse("console:exception_list")).content.decode()
    with pytest.raises(HubError, match=r"PRICE_VARIANCE \(on hold\)"):
        exception_replay(exception_id=item.pk, actor=ap_analyst)

    act(client, item, "release", "Credit note arrived")

    item.refresh_from_db()
    assert not item.is_held
    kinds = list(item.activities.values_list("kind", flat=True))
    assert kinds[-2:] == ["held", "released"]
    exception_replay(exception_id=item.pk, actor=ap_analyst)  # allowed again


def test_hold_needs_a_reason_and_a_held_item_raises_no_sla_alert(client, ap_analyst, variance):
    from apps.alerts.models import Alert
    from apps.alerts.services import alerts_scan

    item = only_exception(variance)
    client.force_login(ap_analyst)
    assert "Say why" in act(client, item, "hold", "  ").content.decode()
    item.refresh_from_db()
    assert not item.is_held

    act(client, item, "hold", "Waiting for the buyer")
    BusinessException.objects.filter(pk=item.pk).update(
        due_at=item.opened_at, opened_at=item.opened_at - datetime.timedelta(days=9)
    )
    alerts_scan()

    assert not Alert.objects.filter(exception=item).exists()


def test_a_viewer_cannot_hold(client, viewer, variance):
    item = only_exception(variance)
    client.force_login(viewer)

    response = client.post(
        reverse("console:exception_action", args=[item.pk]), {"action": "hold", "text": "x"}
    )

    assert response.status_code == 403
    item.refresh_from_db()
    assert not item.is_held


# --- Reject -----------------------------------------------------------------------------------


def test_reject_stops_the_transaction_and_the_invoice_for_good(client, ap_analyst, variance):
    item = only_exception(variance)
    client.force_login(ap_analyst)

    shown = act(client, item, "reject", "Not our order: billed to the wrong hospital")

    assert "Rejected" in shown.content.decode()
    item.refresh_from_db()
    variance.refresh_from_db()
    assert item.status == "rejected"
    assert item.resolution == "Not our order: billed to the wrong hospital"
    assert variance.status == "rejected"
    assert Invoice.objects.get(invoice_number="INV-1").status == "rejected"
    assert variance.events.filter(kind="rejected", actor=ap_analyst).exists()
    with pytest.raises(HubError, match="already closed"):
        exception_replay(exception_id=item.pk, actor=ap_analyst)


def test_reject_needs_a_reason_and_changes_nothing_without_one(client, ap_analyst, variance):
    item = only_exception(variance)
    client.force_login(ap_analyst)

    shown = act(client, item, "reject", "")

    assert "Say why the document is rejected" in shown.content.decode()
    variance.refresh_from_db()
    assert variance.status == "exception"
    assert Invoice.objects.get().status == "exception"


def test_reject_is_refused_where_the_catalogue_does_not_allow_it(client, engineer, network):  # noqa: F811
    tx = send(network["procurement_in"], po_document(facility="ELSEWHERE"), key="po-x")
    item = only_exception(tx)  # FACILITY_UNKNOWN: fixed by a mapping, not rejected
    client.force_login(engineer)

    shown = act(client, item, "reject", "no")

    assert "Reject is not allowed for FACILITY_UNKNOWN" in shown.content.decode()
    tx.refresh_from_db()
    assert tx.status == "exception"


# --- Edit and replay --------------------------------------------------------------------------


def test_engineer_edits_a_field_records_the_diff_and_the_replay_goes_through(
    client,
    engineer,
    network,  # noqa: F811
):
    tx = send(network["procurement_in"], po_document(po_date="02/11/2026"), key="po-d")
    item = only_exception(tx)
    assert item.code_id == "SCHEMA_INVALID"
    received = bytes(tx.raw)
    client.force_login(engineer)
    url = reverse("console:transaction_edit", args=[tx.pk])

    form = client.get(url)
    assert form.status_code == 200
    assert 'name="f:po_date" value="02/11/2026"' in form.content.decode()

    response = client.post(
        url,
        {
            "f:po_date": "2026-11-02",
            "f:lines.0.quantity": "10",  # unchanged: not in the diff
            "reason": "Procurement sent the date in US format",
        },
    )
    assert response.status_code == 302

    (edit,) = TransactionEdit.objects.filter(transaction=tx)
    assert edit.diff == [{"path": "po_date", "before": "02/11/2026", "after": "2026-11-02"}]
    assert edit.reason == "Procurement sent the date in US format"
    tx.refresh_from_db()
    assert bytes(tx.raw) == received  # the message as received is kept
    assert json.loads(bytes(tx.edited))["po_date"] == "2026-11-02"
    assert tx.events.filter(kind="edited", actor=engineer).exists()
    assert item.activities.filter(kind="edited").exists()

    work_drain(stage=Stage.PROCESS)

    tx.refresh_from_db()
    item.refresh_from_db()
    assert tx.status == "completed"
    assert item.status == "resolved"
    assert PurchaseOrder.objects.get(po_number="PO-1").po_date == datetime.date(2026, 11, 2)
    detail = client.get(reverse("console:transaction_detail", args=[tx.pk])).content.decode()
    assert "Corrections" in detail
    assert "Procurement sent the date in US format" in detail


def test_edit_keeps_the_type_of_a_number_and_explains_a_bad_one(engineer, network):  # noqa: F811
    tx = send(network["procurement_in"], po_document(po_date="bad"), key="po-n")

    with pytest.raises(HubError, match="revision: 'two' is not a number"):
        transaction_edit_and_replay(
            transaction_id=tx.pk, actor=engineer, values={"revision": "two"}, reason="x"
        )
    edit = transaction_edit_and_replay(
        transaction_id=tx.pk,
        actor=engineer,
        values={"revision": "2", "po_date": "2026-11-02"},
        reason="fix",
    )

    assert json.loads(edit.body)["revision"] == 2
    assert {c["path"] for c in edit.diff} == {"revision", "po_date"}


@pytest.mark.parametrize(
    ("values", "reason", "message"),
    [
        ({"po_date": "2026-11-02"}, " ", "Say why"),
        ({}, "no change", "Nothing was changed"),
        ({"po_date": "bad"}, "same value", "Nothing was changed"),
        ({"no.such.field": "1"}, "x", "No such field: no.such.field"),
    ],
)
def test_edit_refusals_change_nothing(engineer, network, values, reason, message):  # noqa: F811
    tx = send(network["procurement_in"], po_document(po_date="bad"), key="po-r")

    with pytest.raises(HubError, match=message):
        transaction_edit_and_replay(
            transaction_id=tx.pk, actor=engineer, values=values, reason=reason
        )

    tx.refresh_from_db()
    assert tx.edited is None
    assert tx.status == "exception"
    assert not TransactionEdit.objects.exists()


def test_patient_fields_are_masked_and_cannot_be_edited(client, engineer, network):  # noqa: F811
    tx = send(
        network["procurement_in"],
        {**po_document(po_date="bad"), "patient": {"mrn": "MRN-123456"}},
        key="po-p",
    )
    client.force_login(engineer)

    form = client.get(reverse("console:transaction_edit", args=[tx.pk])).content.decode()

    assert "MRN-123456" not in form
    assert 'name="f:patient.mrn"' not in form
    with pytest.raises(HubError, match="identifies a person"):
        transaction_edit_and_replay(
            transaction_id=tx.pk, actor=engineer, values={"patient.mrn": "MRN-9"}, reason="x"
        )


@pytest.mark.parametrize("persona", ["viewer", "ap_analyst", "steward"])
def test_edit_needs_edit_and_replay_and_view_payload(client, request, persona, network):  # noqa: F811
    tx = send(network["procurement_in"], po_document(po_date="bad"), key="po-q")
    client.force_login(request.getfixturevalue(persona))
    url = reverse("console:transaction_edit", args=[tx.pk])

    assert client.get(url).status_code == 403
    response = client.post(url, {"f:po_date": "2026-11-02", "reason": "x"})

    assert response.status_code == 403
    tx.refresh_from_db()
    assert tx.edited is None


def test_a_completed_transaction_cannot_be_edited(engineer, network):  # noqa: F811
    tx = send(network["procurement_in"], po_document(), key="po-ok")
    assert tx.status == "completed"

    with pytest.raises(HubError, match="Only failed or retrying"):
        transaction_edit_and_replay(
            transaction_id=tx.pk, actor=engineer, values={"po_date": "2026-11-03"}, reason="x"
        )


def test_an_x12_message_is_explained_not_edited(client, engineer, variance):
    Transaction.objects.filter(pk=variance.pk).update(raw=b"ISA*00*...~")
    client.force_login(engineer)

    shown = client.get(reverse("console:transaction_edit", args=[variance.pk])).content.decode()

    assert "Only JSON messages can be edited field by field" in shown


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="no Debian chromium"
)
def test_engineer_corrects_a_message_in_the_browser_and_it_goes_through(
    page,  # noqa: F811
    live_server,
    tmp_path,
    engineer,
    network,  # noqa: F811
):
    tx = send(network["procurement_in"], po_document(po_date="02/11/2026"), key="po-b")
    item = only_exception(tx)
    sign_in(page, live_server.url, "dave", "pw-dave")
    page.goto(f"{live_server.url}/exceptions/{item.pk}/")
    page.get_by_role("link", name="Edit and replay").click()
    page.get_by_label("po_date").fill("2026-11-02")
    page.get_by_label("Why (recorded with the change)").fill("Date sent in US format")
    shot(page, "console-edit-replay", tmp_path)
    page.get_by_role("button", name="Save the changes and replay").click()
    page.get_by_text("1 field(s) changed and the transaction queued for replay").wait_for()

    work_drain(stage=Stage.PROCESS)  # what the processing worker does with the replay
    page.reload()

    assert page.get_by_text("Resolved", exact=True).first.is_visible()
    tx.refresh_from_db()
    assert tx.status == "completed"


def test_the_queue_shows_claimed_items_and_filters_held_ones(client, ap_analyst, variance):
    item = only_exception(variance)
    client.force_login(ap_analyst)
    act(client, item, "claim")
    url = reverse("console:exception_list")

    mine = client.get(url, {"assignee": ap_analyst.username}).content.decode()
    assert f'href="/exceptions/{item.pk}/"' in mine  # in progress is still in the queue
    act(client, item, "hold", "Waiting for the credit note")

    held = client.get(url, {"sla": "on_hold"}).content.decode()
    breached = client.get(url, {"sla": "breached"}).content.decode()
    on_track = client.get(url, {"sla": "on_track"}).content.decode()

    assert f'href="/exceptions/{item.pk}/"' in held
    assert f'href="/exceptions/{item.pk}/"' not in breached
    assert f'href="/exceptions/{item.pk}/"' not in on_track
