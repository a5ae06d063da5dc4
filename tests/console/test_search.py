"""Global search by business key: documents, exceptions and transactions, as permitted."""

import pytest
from django.urls import reverse

from apps.pipeline.models import Transaction
from tests.p2p.conftest import network  # noqa: F401 (fixture)
from tests.p2p.test_edi_flow import edi, interchange, invoice_810, receive  # noqa: F401
from tests.p2p.test_flow import receipt_document, send

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def traded(edi):  # noqa: F811
    send(edi["receipts_in"], receipt_document())
    receive(edi, interchange("810", invoice_810(lines=(("1", "10", "13.50", "AC-1"),))), "f1")
    return edi


def search(client, term: str) -> str:
    return client.get(reverse("console:search"), {"q": term}).content.decode()


def test_a_po_number_finds_the_order_its_invoices_receipts_and_messages(client, ap_analyst, traded):
    client.force_login(ap_analyst)

    page = search(client, "PO-1")

    assert "<h2>Purchase orders</h2>" in page
    assert "<h2>Invoices</h2>" in page
    assert "INV-1" in page
    assert "<h2>Receipts</h2>" in page
    assert "GR-1" in page
    assert "<h2>Transactions</h2>" in page


def test_an_invoice_number_finds_its_exception(client, ap_analyst, traded):
    client.force_login(ap_analyst)

    page = search(client, "INV-1")

    assert "<h2>Exceptions</h2>" in page
    assert "PRICE_VARIANCE" in page


def test_a_correlation_id_finds_the_whole_flow(client, engineer, traded):
    tx = Transaction.objects.filter(document_type="p2p.invoice").get()
    client.force_login(engineer)

    page = search(client, tx.correlation_id)

    assert f"{tx.pk}</a>" in page


def test_nothing_found_says_how_keys_are_matched(client, viewer, traded):
    client.force_login(viewer)
    assert "are matched exactly" in search(client, "PO-404")


def test_an_outsider_finds_nothing_and_anonymous_must_sign_in(client, outsider, traded):
    client.force_login(outsider)
    page = search(client, "PO-1")
    assert "Purchase orders" not in page
    assert "INV-1" not in page.replace('value="PO-1"', "")
    client.logout()
    assert client.get(reverse("console:search"), {"q": "PO-1"}).status_code == 302


def test_a_key_on_more_transactions_than_shown_finds_the_newest(engineer, db):
    from apps.pipeline.models import TransactionKey
    from apps.pipeline.selectors import transaction_search_ids
    from tests.conftest import make_webhook
    from tests.pipeline.builders import receive_json

    connector = make_webhook()
    ids = [receive_json(connector, {"id": f"m{n}"}).transaction_id for n in range(12)]
    TransactionKey.objects.bulk_create(
        TransactionKey(transaction_id=i, kind="supplier", value="SUP-HOT") for i in ids
    )

    assert transaction_search_ids(term="SUP-HOT", limit=5) == sorted(ids, reverse=True)[:5]
