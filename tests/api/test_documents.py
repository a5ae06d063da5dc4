"""Business documents through the API: search by number, and each document's status."""

import pytest

from apps.exceptions.services import ExceptionSpec, exceptions_open
from tests.api.conftest import API

pytestmark = pytest.mark.django_db

DOCS = f"{API}/documents"


@pytest.fixture
def api(client, viewer):
    client.force_login(viewer)
    return client


def test_search_by_po_number_finds_the_po_and_its_invoices_and_receipts(api, documents):
    body = api.get(f"{DOCS}/", {"key": "PO-1"}).json()

    found = [(r["type"], r["number"], r["relation"]) for r in body["results"]]
    assert found == [
        ("purchase_order", "PO-1", "number"),
        ("invoice", "INV-1", "purchase_order"),
        ("receipt", "GR-1", "purchase_order"),
    ]
    invoice = body["results"][1]
    assert invoice["url"].endswith("/api/v1/documents/invoice/INV-1/?supplier=SUP-1&kind=invoice")
    assert api.get(invoice["url"]).status_code == 200


def test_search_by_invoice_number_finds_every_supplier_s_invoice(api, documents):
    body = api.get(f"{DOCS}/", {"key": "INV-1"}).json()

    assert sorted((r["supplier"], r["status"]) for r in body["results"]) == [
        ("SUP-1", "vouchered"),
        ("SUP-2", "exception"),
    ]


def test_search_needs_a_key(api):
    response = api.get(f"{DOCS}/")

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]["fields"]) == ["key"]


def test_search_of_an_unknown_number_finds_nothing(api, documents):
    assert api.get(f"{DOCS}/", {"key": "NOPE"}).json()["results"] == []


def test_purchase_order_shows_each_line_ordered_shipped_received_invoiced(api, documents):
    body = api.get(f"{DOCS}/purchase_order/PO-1/").json()

    assert body["status"] == "partly_received"
    assert body["supplier"] == {"code": "SUP-1", "name": "Acme Medical"}
    assert [
        (
            line["line_number"],
            line["ordered_quantity"],
            line["shipped_quantity"],
            line["received_quantity"],
            line["invoiced_quantity"],
        )
        for line in body["lines"]
    ] == [
        ("1", "10.0000", "10.0000", "10.0000", "10.0000"),
        ("2", "4.0000", "2.0000", "0.0000", "0.0000"),
    ]
    assert [r["receipt_id"] for r in body["receipts"]] == ["GR-1"]
    assert [(i["invoice_number"], i["status"]) for i in body["invoices"]] == [
        ("INV-1", "vouchered")
    ]


def test_purchase_order_detail_costs_a_fixed_number_of_queries(
    api, documents, django_assert_max_num_queries
):
    with django_assert_max_num_queries(10):
        assert api.get(f"{DOCS}/purchase_order/PO-1/").status_code == 200


def test_invoice_shows_status_match_summary_and_voucher(api, documents):
    body = api.get(f"{DOCS}/invoice/INV-1/", {"supplier": "SUP-1"}).json()

    assert body["status"] == "vouchered"
    assert body["purchase_order"] == "PO-1"
    assert body["match"] == {"matched": True, "waiting_for_receipt": False, "variances": []}
    assert body["voucher"] == {
        "voucher_id": "V-INV-1",
        "status": "posted",
        "amount": "125.00",
        "erp_reference": "AP-778",
        "match_outcome": "matched",
    }
    assert [line["po_line"] for line in body["lines"]] == ["1"]


def test_an_unmatched_invoice_shows_its_variances_and_open_exceptions(api, documents):
    other = documents["invoice"].__class__.objects.get(supplier__code="SUP-2")
    exceptions_open(
        [
            ExceptionSpec(
                code="PRICE_VARIANCE",
                summary="Price 2.00 vs 1.00",
                transaction_id=other.source_transaction_id,
            )
        ]
    )

    body = api.get(f"{DOCS}/invoice/INV-1/", {"supplier": "SUP-2"}).json()

    assert body["voucher"] is None
    assert body["match"]["matched"] is False
    assert [v["code"] for v in body["match"]["variances"]] == ["PRICE_VARIANCE"]
    assert [e["code"] for e in body["open_exceptions"]] == ["PRICE_VARIANCE"]


def test_an_invoice_number_two_suppliers_share_is_a_409_listing_them(api, documents):
    response = api.get(f"{DOCS}/invoice/INV-1/")

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "DOCUMENT_AMBIGUOUS"
    assert sorted(c["supplier"] for c in error["details"]["candidates"]) == ["SUP-1", "SUP-2"]


def test_receipt_and_ship_notice_show_their_lines(api, documents):
    receipt = api.get(f"{DOCS}/receipt/GR-1/").json()
    notice = api.get(f"{DOCS}/ship_notice/ASN-1/").json()

    assert receipt["purchase_order"] == "PO-1"
    assert [(line["po_line"], line["quantity"], line["lot"]) for line in receipt["lines"]] == [
        ("1", "10.0000", "L7")
    ]
    assert [(line["purchase_order"], line["po_line"]) for line in notice["lines"]] == [
        ("PO-1", "1"),
        ("PO-1", "2"),
    ]


@pytest.mark.parametrize("kind", ["purchase_order", "invoice", "receipt", "ship_notice"])
def test_an_unknown_document_is_a_404(api, documents, kind):
    response = api.get(f"{DOCS}/{kind}/NOPE/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_a_number_with_a_slash_is_found(api, documents):
    documents["po"].__class__.objects.filter(pk=documents["po"].pk).update(po_number="2026/42")

    assert api.get(f"{DOCS}/purchase_order/2026/42/").json()["po_number"] == "2026/42"
