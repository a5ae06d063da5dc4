"""Browser journey: an AP analyst accepts a price variance and the voucher posts to the ERP."""

import httpx
import pytest
from django.contrib.auth.models import Group

from apps.accounts import roles
from apps.connectors.models import Connector
from apps.p2p.models import Invoice, VarianceAuthority
from apps.pipeline.models import Transaction
from tests.conftest import wait_until
from tests.console.test_browser import CHROMIUM, page, shot, sign_in  # noqa: F401 (fixture)
from tests.p2p.conftest import network  # noqa: F401 (fixture)
from tests.p2p.test_edi_flow import edi, interchange, invoice_810, receive  # noqa: F401
from tests.p2p.test_flow import receipt_document, send

pytestmark = [pytest.mark.browser, pytest.mark.slow]
if not __import__("pathlib").Path(CHROMIUM).exists():
    pytestmark.append(pytest.mark.skip(reason="Debian's chromium is not installed"))


@pytest.mark.django_db(transaction=True)
def test_ap_analyst_accepts_a_price_variance_and_the_voucher_posts(
    page,  # noqa: F811
    live_server,
    edi,  # noqa: F811
    sandbox,
    sandbox_url,
    start_worker,
    ap_analyst,
    tmp_path,
):
    Connector.objects.filter(slug="erp-vouchers").update(
        settings={"url": f"{sandbox_url}/erp/ap-vouchers"}
    )
    VarianceAuthority.objects.create(
        group=Group.objects.get(name=roles.AP_ANALYST.name), max_amount="50.00"
    )
    send(edi["receipts_in"], receipt_document())
    receive(edi, interchange("810", invoice_810(lines=(("1", "10", "13.50", "AC-1"),))), "f1")
    assert Invoice.objects.get().status == "exception"

    sign_in(page, live_server.url, ap_analyst.username, "pw-" + ap_analyst.username)
    page.wait_for_url(f"{live_server.url}/")
    page.get_by_role("link", name="Exceptions").click()
    page.get_by_role("link", name="Grouped by root cause").click()
    assert page.locator("tbody .badge", has_text="PRICE_VARIANCE").is_visible()
    page.get_by_role("link", name="All exceptions").click()
    page.locator("tbody tr", has_text="PRICE_VARIANCE").locator("a").first.click()

    assert page.get_by_role("heading", name="Invoice INV-1 against PO PO-1").is_visible()
    highlighted = page.locator("td.variance")
    assert highlighted.first.inner_text() == "13.5"
    shot(page, "invoice-match", tmp_path)

    start_worker()
    page.get_by_label("Accept the variance of 10.00").fill("Supplier's new list price, agreed")
    page.get_by_role("button", name="Accept variance and post the voucher").click()
    assert page.get_by_text("Variance accepted; the invoice matches again").is_visible()

    def resolved():
        page.reload()
        return page.locator("h1 .badge").inner_text() == "Resolved"

    wait_until(resolved, timeout=60, interval=0.5, message="the exception to resolve")
    voucher = Transaction.objects.get(document_type="p2p.ap_voucher.erp")
    wait_until(
        lambda: Transaction.objects.get(pk=voucher.pk).status == "completed",
        timeout=60,
        message="the voucher delivered to the ERP",
    )
    posted = httpx.get(f"{sandbox_url}/erp/ap-vouchers", timeout=10).json()
    (document,) = [d for d in posted["documents"] if d["number"] == "AP-SUP-1-INV-1"]
    assert document["body"]["match"] == {"result": "variance_accepted", "accepted_by": "alice"}
    assert page.get_by_text("Variance accepted by alice").is_visible()
