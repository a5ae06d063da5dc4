"""The match exception screen, accepting a variance within one's authority, and root causes."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from apps.accounts import roles
from apps.exceptions.models import BusinessException
from apps.p2p.models import APVoucher, Invoice, VarianceAuthority
from apps.pipeline.choices import WorkStageChoices as Stage
from apps.pipeline.models import Transaction
from apps.pipeline.services import work_drain
from tests.p2p.conftest import network  # noqa: F401 (fixture)
from tests.p2p.test_edi_flow import edi, interchange, invoice_810, receive  # noqa: F401
from tests.p2p.test_flow import receipt_document, send

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def price_variance(edi):  # noqa: F811 (the fixture imported above)
    send(edi["receipts_in"], receipt_document())
    raw = interchange("810", invoice_810(lines=(("1", "10", "13.50", "AC-1"),)))
    parent = receive(edi, raw, "f1")
    child = Transaction.objects.get(parent=parent, direction="in")
    assert child.last_error_code == "PRICE_VARIANCE"
    return BusinessException.objects.get(transaction=child, code_id="PRICE_VARIANCE")


def authority(amount: str) -> None:
    VarianceAuthority.objects.create(
        group=Group.objects.get(name=roles.AP_ANALYST.name), max_amount=Decimal(amount)
    )


def test_the_match_screen_shows_po_receipt_and_invoice_side_by_side(
    client, ap_analyst, price_variance
):
    authority("50.00")
    client.force_login(ap_analyst)

    page = client.get(reverse("console:exception_detail", args=[price_variance.pk])).content
    text = page.decode()

    assert "Invoice INV-1 against PO PO-1" in text
    assert '<td class="num variance">13.5</td>' in text
    assert "GR-1" in text  # the receipt
    assert "Accept the variance of 10.00" in text
    assert "your authority: 50.00" in text


def test_accepting_a_variance_within_authority_posts_the_voucher_and_resolves(
    client, ap_analyst, price_variance
):
    authority("50.00")
    client.force_login(ap_analyst)

    response = client.post(
        reverse("console:exception_action", args=[price_variance.pk]),
        {"action": "accept_variance", "invoice": Invoice.objects.get().pk, "text": "Agreed"},
    )
    work_drain(stage=Stage.PROCESS)

    assert response.status_code == 302
    invoice = Invoice.objects.get()
    assert invoice.status == "matched"
    assert invoice.accepted_by == ap_analyst
    voucher = APVoucher.objects.get()
    assert voucher.match_outcome == "variance_accepted"
    posting = Transaction.objects.get(document_type="p2p.ap_voucher.erp")
    assert b'"accepted_by":"alice"' in bytes(posting.raw)
    assert b'"result":"variance_accepted"' in bytes(posting.raw)
    price_variance.refresh_from_db()
    assert price_variance.status == "resolved"
    assert price_variance.activities.filter(message__contains="Variance accepted").exists()


def test_a_variance_above_ones_authority_is_refused(client, ap_analyst, price_variance):
    authority("5.00")
    client.force_login(ap_analyst)

    page = client.get(reverse("console:exception_detail", args=[price_variance.pk])).content
    assert b"needs someone whose authority covers it" in page
    response = client.post(
        reverse("console:exception_action", args=[price_variance.pk]),
        {"action": "accept_variance", "invoice": Invoice.objects.get().pk, "text": "Agreed"},
        follow=True,
    )

    assert b"above your authority of 5.00" in response.content
    assert Invoice.objects.get().status == "exception"
    assert not APVoucher.objects.exists()


def test_only_roles_with_the_permission_may_accept(client, viewer, steward, price_variance):
    for person in (viewer, steward):
        client.force_login(person)
        client.post(
            reverse("console:exception_action", args=[price_variance.pk]),
            {"action": "accept_variance", "invoice": Invoice.objects.get().pk, "text": "x"},
        )
    assert Invoice.objects.get().accepted_by is None


def test_accepting_needs_the_csrf_token(ap_analyst, price_variance):
    from django.test import Client

    authority("50.00")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(ap_analyst)

    response = strict.post(
        reverse("console:exception_action", args=[price_variance.pk]),
        {"action": "accept_variance", "invoice": Invoice.objects.get().pk, "text": "Agreed"},
    )

    assert response.status_code == 403
    assert Invoice.objects.get().accepted_by is None


def test_root_causes_group_exceptions_with_one_fix(client, steward, ap_analyst, edi):  # noqa: F811
    for n in range(3):
        raw = interchange(
            "810", invoice_810(number=f"INV-{n}"), sender="STRANGER", control=f"00000020{n}"
        )
        receive(edi, raw, f"f{n}")

    client.force_login(steward)
    text = client.get(reverse("console:exception_group_list")).content.decode()

    assert "Supplier <strong>ZZ:STRANGER</strong> of X12 is not mapped" in text
    assert ">3</a>" in text
    assert "Fix the mapping" in text
    assert "fix-mapping/?key=supplier%3AX12%3AZZ%3ASTRANGER" in text
    client.force_login(ap_analyst)
    assert b"Fix the mapping" not in client.get(reverse("console:exception_group_list")).content


def test_root_causes_need_a_console_role(client, outsider):
    client.force_login(outsider)
    assert client.get(reverse("console:exception_group_list")).status_code == 403
    client.logout()
    response = client.get(reverse("console:exception_group_list"))
    assert response.status_code == 302


def test_work_queue_filters_by_supplier_facility_amount_and_sla(client, ap_analyst, edi):  # noqa: F811
    from decimal import Decimal

    from tests.p2p.test_flow import po_document

    send(edi["procurement_in"], po_document("PO-2", facility="ELSEWHERE"))  # FACILITY_UNKNOWN
    send(edi["receipts_in"], receipt_document())
    receive(edi, interchange("810", invoice_810(lines=(("1", "10", "13.50", "AC-1"),))), "f1")
    variance = BusinessException.objects.get(code_id="PRICE_VARIANCE")
    assert (variance.supplier, variance.document, variance.amount) == (
        "SUP-1",
        "INV-1",
        Decimal("135.00"),
    )
    facility = BusinessException.objects.get(code_id="FACILITY_UNKNOWN")
    assert (facility.facility, facility.document) == ("ELSEWHERE", "PO-2")

    client.force_login(ap_analyst)
    url = reverse("console:exception_list")

    def codes(**query):
        page = client.get(url, query).content.decode()
        return {c for c in ("PRICE_VARIANCE", "FACILITY_UNKNOWN") if f">{c}<" in page}

    assert codes() == {"PRICE_VARIANCE", "FACILITY_UNKNOWN"}
    assert codes(supplier="SUP-1") == {"PRICE_VARIANCE"}
    assert codes(facility="ELSEWHERE") == {"FACILITY_UNKNOWN"}
    assert codes(amount_min="100", amount_max="200") == {"PRICE_VARIANCE"}
    assert codes(sla="on_track") == {"PRICE_VARIANCE", "FACILITY_UNKNOWN"}
    assert codes(sla="breached") == set()
    BusinessException.objects.filter(pk=variance.pk).update(due_at=variance.opened_at)
    assert codes(sla="breached") == {"PRICE_VARIANCE"}
    assert codes(older_than_hours="1") == set()
