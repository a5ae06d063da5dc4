"""Demo traffic: the procurement system's purchase orders for the EDI suppliers."""

import datetime
from collections import Counter
from decimal import Decimal

import pytest

from apps.sandbox.demo_network import demo_network_plan, procurement_supplier_key
from apps.sandbox.management.commands.sandbox_traffic import Traffic
from apps.sandbox.supplier import EDI_SUPPLIERS, supplier_catalogue

TODAY = datetime.date(2026, 11, 21)
EDI_KEYS = {procurement_supplier_key(key): key for key in EDI_SUPPLIERS}


def _orders(seed: int = 7, count: int = 400) -> list[dict]:
    traffic = Traffic(
        seed=seed, run="000042", base_url="http://x", sandbox_url="http://y", secret="s"
    )
    return [traffic.purchase_order(today=TODAY) for _ in range(count)]


@pytest.fixture(scope="module")
def orders() -> list[dict]:
    return _orders()


def test_traffic_purchase_orders_are_the_same_for_a_seed(orders):
    assert _orders(count=50) == orders[:50]
    assert _orders(seed=8, count=50) != orders[:50]


def test_traffic_purchase_orders_carry_the_procurement_fields(orders):
    order = orders[0]

    assert set(order) == {
        "event_id",
        "po_number",
        "revision",
        "requisition_number",
        "po_date",
        "legal_entity",
        "facility",
        "cost_center",
        "supplier",
        "currency",
        "lines",
    }
    assert (order["po_number"], order["event_id"]) == ("PO-000042-P00001", "po-000042-P00001")
    assert (order["revision"], order["currency"], order["po_date"]) == (1, "USD", "2026-11-21")
    assert len({o["po_number"] for o in orders}) == len(orders)
    for line in order["lines"]:
        assert set(line) == {
            "line_number",
            "item",
            "vendor_part",
            "description",
            "quantity",
            "unit",
            "unit_price",
        }
        assert Decimal(line["quantity"]) > 0
        assert Decimal(line["unit_price"]) > 0


def test_traffic_orders_edi_suppliers_parts_they_sell(orders):
    for order in orders:
        key = EDI_KEYS.get(order["supplier"])
        if key is None:
            continue
        catalogue = supplier_catalogue(key)
        assert all(line["vendor_part"] in catalogue for line in order["lines"])
    assert set(Counter(o["supplier"] for o in orders)) >= set(EDI_KEYS)


def test_traffic_a_few_orders_meet_master_data_gaps(orders):
    gaps = demo_network_plan().gaps
    closed = next(c.code for c in demo_network_plan().cost_centers if not c.active)

    unmapped = [o for o in orders if o["supplier"] in gaps.unknown_procurement_suppliers]
    closed_center = [o for o in orders if o["cost_center"] == closed]

    assert 0 < len(unmapped) <= 0.06 * len(orders)
    assert 0 < len(closed_center) <= 0.05 * len(orders)
    normal = [o for o in orders if o not in unmapped and o not in closed_center]
    assert all(o["supplier"] in EDI_KEYS for o in normal)
    unknown_items = set(gaps.unknown_procurement_items)
    assert not any(line["item"] in unknown_items for o in orders for line in o["lines"])
