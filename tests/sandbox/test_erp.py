"""The sandbox ERP: validation codes in their order, idempotency, duplicates, faults, listings."""

import copy
import datetime
import json
import time
import uuid

import pytest

from apps.sandbox.erp import CLOSED_BEFORE_ENV, erp_closed_before
from apps.sandbox.models import SandboxErpDocument

PO = {
    "po_number": "PO-77001",
    "revision": 1,
    "legal_entity": "1000",
    "facility": "BU110",
    "cost_center": "1000-1101",
    "supplier": "V10023",
    "currency": "USD",
    "po_date": "2026-11-20",
    "lines": [
        {
            "line_number": "1",
            "item": "1000042",
            "description": "Nitrile exam gloves, size M",
            "quantity": "10",
            "unit": "EA",
            "unit_price": "12.50",
            "amount": "125.00",
        },
        {
            "line_number": "2",
            "item": "1000043",
            "description": "Syringe, 3 mL",
            "quantity": "3",
            "unit": "BX",
            "unit_price": "0.333",
            "amount": "1.00",  # 0.999 rounded to cents
        },
    ],
    "total_amount": "126.00",
}
RECEIPT = {
    "receipt_id": "RCV-0001",
    "po_number": "PO-77001",
    "facility": "BU110",
    "received_date": "2026-11-21",
    "lines": [{"po_line_number": "1", "item": "1000042", "quantity": "10", "unit": "EA"}],
}
VOUCHER = {
    "voucher_id": "VCH-0001",
    "invoice_number": "MDL-INV-000001",
    "kind": "invoice",
    "invoice_date": datetime.date.today().isoformat(),
    "po_number": "PO-77001",
    "supplier": "V10023",
    "legal_entity": "1000",
    "currency": "USD",
    "lines": [
        {
            "po_line_number": "1",
            "item": "1000042",
            "quantity": "10",
            "unit_price": "12.50",
            "amount": "125.00",
        }
    ],
    "charges_amount": "15.00",
    "tax_amount": "7.50",
    "total_amount": "147.50",
    "match": {"result": "matched", "accepted_by": ""},
}
PATHS = {"po": "/erp/purchase-orders", "receipt": "/erp/receipts", "voucher": "/erp/ap-vouchers"}
BODIES = {"po": PO, "receipt": RECEIPT, "voucher": VOUCHER}


def _key() -> str:
    return f"test-{uuid.uuid4()}"


def _post(client, kind: str, body: dict, key: str | None = None):
    return client.post(
        PATHS[kind],
        data=json.dumps(body),
        content_type="application/json",
        headers={"Idempotency-Key": key or _key()},
    )


def _changed(kind: str, change) -> dict:
    body = copy.deepcopy(BODIES[kind])
    change(body)
    return body


@pytest.fixture
def erp(client, db, settings):
    settings.ROOT_URLCONF = "apps.sandbox.urls"
    return client


@pytest.fixture
def erp_with_po(erp):
    assert _post(erp, "po", PO).status_code == 201
    return erp


# --- Accepted documents -------------------------------------------------------------------------


def test_erp_po_is_created_open_and_listed(erp):
    response = _post(erp, "po", PO, key="po-key-1")

    assert response.status_code == 201
    assert response["Idempotent-Replayed"] == "false"
    answer = response.json()
    assert answer["status"] == "open"
    assert answer["id"].startswith("ERP-PO-")
    stored = SandboxErpDocument.objects.get()
    assert (stored.kind, stored.number, stored.revision) == ("purchase_order", "PO-77001", 1)
    assert (stored.erp_id, stored.idempotency_key, stored.body) == (answer["id"], "po-key-1", PO)
    listing = erp.get("/erp/purchase-orders").json()
    assert listing["count"] == 1
    assert listing["documents"][0]["id"] == answer["id"]
    assert listing["documents"][0]["body"] == PO


def test_erp_receipt_and_voucher_are_posted(erp_with_po):
    receipt = _post(erp_with_po, "receipt", RECEIPT)
    voucher = _post(erp_with_po, "voucher", VOUCHER)

    assert receipt.status_code == 201, receipt.json()
    assert receipt.json()["id"].startswith("ERP-GR-")
    assert receipt.json()["status"] == "posted"
    assert voucher.status_code == 201, voucher.json()
    assert voucher.json()["id"].startswith("ERP-AP-")
    assert voucher.json()["status"] == "posted"
    assert erp_with_po.get("/erp/receipts").json()["count"] == 1
    vouchers = erp_with_po.get("/erp/ap-vouchers", {"number": "MDL-INV-000001"}).json()
    assert [d["number"] for d in vouchers["documents"]] == ["VCH-0001"]


def test_erp_listing_filters_by_number(erp):
    _post(erp, "po", PO)
    _post(erp, "po", {**PO, "po_number": "PO-77002"})

    listing = erp.get("/erp/purchase-orders", {"number": "PO-77002"}).json()

    assert [d["number"] for d in listing["documents"]] == ["PO-77002"]
    assert erp.get("/erp/purchase-orders", {"number": "PO-0"}).json()["count"] == 0


def test_erp_credit_memo_voucher_is_accepted(erp_with_po):
    memo = _changed("voucher", lambda b: b.update(kind="credit_memo", voucher_id="VCH-0002"))

    assert _post(erp_with_po, "voucher", memo).status_code == 201


def test_erp_variance_accepted_voucher_with_approver_is_accepted(erp_with_po):
    body = _changed(
        "voucher", lambda b: b.update(match={"result": "variance_accepted", "accepted_by": "alice"})
    )

    assert _post(erp_with_po, "voucher", body).status_code == 201


# --- Idempotency and duplicates -----------------------------------------------------------------


def test_erp_same_key_and_body_is_replayed_with_the_same_id(erp):
    first = _post(erp, "po", PO, key="po-key-2")

    again = _post(erp, "po", PO, key="po-key-2")

    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert SandboxErpDocument.objects.get().replays == 1


def test_erp_same_key_with_another_body_is_refused(erp):
    _post(erp, "po", PO, key="po-key-3")

    response = _post(erp, "po", {**PO, "currency": "EUR"}, key="po-key-3")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert SandboxErpDocument.objects.get().body["currency"] == "USD"


def test_erp_same_po_number_and_revision_under_another_key_is_a_duplicate(erp):
    _post(erp, "po", PO)

    duplicate = _post(erp, "po", PO)
    revised = _post(erp, "po", {**PO, "revision": 2})

    assert duplicate.status_code == 422
    assert duplicate.json()["error"] == {
        "code": "DUPLICATE_DOCUMENT",
        "message": "The ERP already holds po_number PO-77001 revision 1.",
        "field": "po_number",
    }
    assert revised.status_code == 201
    assert SandboxErpDocument.objects.count() == 2


def test_erp_invoice_number_is_vouchered_once_per_supplier(erp_with_po):
    _post(erp_with_po, "voucher", VOUCHER)

    again = _post(erp_with_po, "voucher", {**VOUCHER, "voucher_id": "VCH-0009"})
    other_supplier = _post(
        erp_with_po, "voucher", {**VOUCHER, "voucher_id": "VCH-0010", "supplier": "V10046"}
    )

    assert again.status_code == 422
    assert again.json()["error"]["code"] == "DUPLICATE_DOCUMENT"
    assert again.json()["error"]["field"] == "invoice_number"
    assert other_supplier.status_code == 201


def test_erp_without_idempotency_key_is_a_bad_request(erp):
    response = erp.post(PATHS["po"], data=json.dumps(PO), content_type="application/json")

    assert response.status_code == 400
    assert SandboxErpDocument.objects.count() == 0


def test_erp_body_that_is_not_a_json_object_is_a_bad_request(erp):
    response = erp.post(
        PATHS["po"], data="[1]", content_type="application/json", headers={"Idempotency-Key": "k"}
    )

    assert response.status_code == 400


# --- Validation ---------------------------------------------------------------------------------


def _line(body: dict, **changes) -> None:
    body["lines"][0].update(changes)


def _period_closed(body: dict) -> None:
    body["invoice_date"] = (erp_closed_before() - datetime.timedelta(days=1)).isoformat()


REJECTIONS = [
    ("po", lambda b: b.pop("supplier"), "MISSING_FIELD", "supplier"),
    ("po", lambda b: b.update(cost_center="  "), "MISSING_FIELD", "cost_center"),
    ("po", lambda b: _line(b, item=""), "MISSING_FIELD", "lines[0].item"),
    ("receipt", lambda b: b.pop("received_date"), "MISSING_FIELD", "received_date"),
    ("voucher", lambda b: b.pop("match"), "MISSING_FIELD", "match"),
    (
        "voucher",
        lambda b: b.update(match={"result": "variance_accepted", "accepted_by": ""}),
        "MISSING_FIELD",
        "match.accepted_by",
    ),
    ("po", lambda b: _line(b, quantity="ten"), "INVALID_NUMBER", "lines[0].quantity"),
    ("po", lambda b: _line(b, unit_price="-1.00"), "INVALID_NUMBER", "lines[0].unit_price"),
    ("po", lambda b: b.update(total_amount="NaN"), "INVALID_NUMBER", "total_amount"),
    ("po", lambda b: b.update(revision=0), "INVALID_NUMBER", "revision"),
    ("receipt", lambda b: _line(b, quantity="1,5"), "INVALID_NUMBER", "lines[0].quantity"),
    ("voucher", lambda b: b.update(tax_amount="-7.50"), "INVALID_NUMBER", "tax_amount"),
    ("po", lambda b: b.update(po_date="21/11/2026"), "INVALID_VALUE", "po_date"),
    ("voucher", lambda b: b.update(kind="debit_memo"), "INVALID_VALUE", "kind"),
    ("po", lambda b: b.update(lines=[]), "NO_LINES", "lines"),
    ("receipt", lambda b: b.update(lines=[]), "NO_LINES", "lines"),
    ("po", lambda b: _line(b, amount="125.01"), "LINE_AMOUNT_MISMATCH", "lines[0].amount"),
    ("voucher", lambda b: _line(b, quantity="9"), "LINE_AMOUNT_MISMATCH", "lines[0].amount"),
    ("po", lambda b: b.update(total_amount="125.00"), "TOTAL_MISMATCH", "total_amount"),
    # Vouchers: lines + charges + tax; here the tax is left out of the total.
    ("voucher", lambda b: b.update(total_amount="140.00"), "TOTAL_MISMATCH", "total_amount"),
    ("voucher", _period_closed, "PERIOD_CLOSED", "invoice_date"),
    ("receipt", lambda b: b.update(po_number="PO-NOPE"), "PO_NOT_FOUND", "po_number"),
]


@pytest.mark.parametrize(
    ("kind", "change", "code", "field"),
    REJECTIONS,
    ids=[f"{kind}-{code}-{field}" for kind, _, code, field in REJECTIONS],
)
def test_erp_rejects_invalid_documents_with_a_code(erp_with_po, kind, change, code, field):
    before = SandboxErpDocument.objects.count()

    response = _post(erp_with_po, kind, _changed(kind, change))

    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["field"]) == (code, field)
    assert error["message"]
    assert SandboxErpDocument.objects.count() == before


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        # Each body breaks this rule and every later one; the first in the order is reported.
        (
            {"supplier": "", "total_amount": "x", "lines": [], "po_date": "bad"},
            "MISSING_FIELD",
        ),
        ({"total_amount": "x", "po_date": "bad", "lines": []}, "INVALID_NUMBER"),
        ({"po_date": "bad", "lines": []}, "INVALID_VALUE"),
        ({"lines": [], "total_amount": "1.00"}, "NO_LINES"),
    ],
)
def test_erp_reports_the_first_broken_rule_in_order(erp, changes, code):
    response = _post(erp, "po", {**PO, **changes})

    assert response.json()["error"]["code"] == code


def test_erp_line_amount_is_checked_before_the_total(erp):
    body = _changed("po", lambda b: (_line(b, amount="1.00"), b.update(total_amount="9.99")))

    assert _post(erp, "po", body).json()["error"]["code"] == "LINE_AMOUNT_MISMATCH"


def test_erp_period_closed_is_checked_before_the_po(erp):
    body = _changed("voucher", _period_closed)  # and no PO exists: vouchers do not need one

    assert _post(erp, "voucher", body).json()["error"]["code"] == "PERIOD_CLOSED"
    assert _post(erp, "voucher", VOUCHER).status_code == 201


def test_erp_closed_period_defaults_to_before_the_previous_month(monkeypatch):
    monkeypatch.delenv(CLOSED_BEFORE_ENV, raising=False)

    assert erp_closed_before(today=datetime.date(2026, 11, 21)) == datetime.date(2026, 10, 1)
    assert erp_closed_before(today=datetime.date(2026, 1, 31)) == datetime.date(2025, 12, 1)
    assert erp_closed_before(today=datetime.date(2026, 3, 1)) == datetime.date(2026, 2, 1)


def test_erp_closed_period_comes_from_the_environment(erp_with_po, monkeypatch):
    monkeypatch.setenv(CLOSED_BEFORE_ENV, "2026-11-21")

    on_the_day = _post(erp_with_po, "voucher", {**VOUCHER, "invoice_date": "2026-11-21"})
    day_before = _post(
        erp_with_po, "voucher", {**VOUCHER, "invoice_date": "2026-11-20", "voucher_id": "V2"}
    )

    assert on_the_day.status_code == 201
    assert day_before.json()["error"]["code"] == "PERIOD_CLOSED"


def test_erp_idempotent_replay_is_answered_before_validation_rules_that_changed(
    erp_with_po, monkeypatch
):
    # Accepted while the period was open; the same delivery again is still the same answer.
    first = _post(erp_with_po, "voucher", VOUCHER, key="voucher-key")
    monkeypatch.setenv(CLOSED_BEFORE_ENV, "2999-01-01")

    again = _post(erp_with_po, "voucher", VOUCHER, key="voucher-key")

    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]


# --- Over real HTTP: the sandbox process, its faults ---------------------------------------------


def _fault(sandbox, **spec) -> None:
    response = sandbox.post("/faults", json={"target": "erp", "count": 1, **spec})
    assert response.status_code == 201


def _http_post(sandbox, kind: str, body: dict, key: str | None = None):
    return sandbox.post(PATHS[kind], json=body, headers={"Idempotency-Key": key or _key()})


def test_erp_over_http_creates_replays_and_lists(sandbox):
    key = _key()

    created = _http_post(sandbox, "po", PO, key)
    replayed = _http_post(sandbox, "po", PO, key)
    receipt = _http_post(sandbox, "receipt", RECEIPT)
    orphan = _http_post(sandbox, "receipt", {**RECEIPT, "receipt_id": "R2", "po_number": "X"})

    assert created.status_code == 201
    assert replayed.status_code == 200
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json()["id"] == created.json()["id"]
    assert receipt.status_code == 201
    assert orphan.status_code == 422
    assert orphan.json()["error"]["code"] == "PO_NOT_FOUND"
    assert sandbox.get("/erp/purchase-orders").json()["documents"][0]["replays"] == 1
    assert sandbox.get("/erp/receipts").json()["count"] == 1


def test_erp_fault_503_with_retry_after_then_normal_service(sandbox):
    _fault(sandbox, mode="status", status=503, retry_after=7)
    key = _key()

    failed = _http_post(sandbox, "po", PO, key)
    retried = _http_post(sandbox, "po", PO, key)

    assert failed.status_code == 503
    assert failed.headers["Retry-After"] == "7"
    assert retried.status_code == 201
    assert SandboxErpDocument.objects.count() == 1


def test_erp_fault_429_with_retry_after(sandbox):
    _fault(sandbox, mode="status", status=429, retry_after=3)

    response = _http_post(sandbox, "voucher", VOUCHER)

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert SandboxErpDocument.objects.count() == 0


def test_erp_fault_reject_is_a_business_rejection_storing_nothing(sandbox):
    _fault(sandbox, mode="reject")

    response = _http_post(sandbox, "po", PO)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "INJECTED_REJECTION"
    assert SandboxErpDocument.objects.count() == 0


def test_erp_fault_lose_answer_stores_and_the_retry_is_a_replay(sandbox):
    _fault(sandbox, mode="lose_answer")
    key = _key()

    lost = _http_post(sandbox, "po", PO, key)
    retried = _http_post(sandbox, "po", PO, key)

    assert lost.status_code == 502
    assert retried.status_code == 200
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert SandboxErpDocument.objects.count() == 1


def test_erp_fault_latency_delays_the_answer(sandbox):
    _fault(sandbox, mode="latency", latency_ms=400)
    started = time.monotonic()

    response = _http_post(sandbox, "po", PO)

    assert response.status_code == 201
    assert time.monotonic() - started >= 0.4


def test_erp_fault_on_one_resource_leaves_the_others_alone(sandbox):
    _fault(sandbox, target="erp-ap-vouchers", mode="status", status=503)

    po = _http_post(sandbox, "po", PO)
    voucher = _http_post(sandbox, "voucher", VOUCHER)
    voucher_again = _http_post(sandbox, "voucher", VOUCHER)

    assert (po.status_code, voucher.status_code, voucher_again.status_code) == (201, 503, 201)


def test_erp_fault_applies_to_the_generic_erp_documents_target_too(sandbox):
    _fault(sandbox, mode="status", status=503, count=2)

    documents = sandbox.post(
        "/targets/erp/documents", json={"document_id": "D-1"}, headers={"Idempotency-Key": "d1"}
    )
    po = _http_post(sandbox, "po", PO)
    po_again = _http_post(sandbox, "po", PO)

    assert (documents.status_code, po.status_code, po_again.status_code) == (503, 503, 201)
