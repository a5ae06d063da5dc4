"""A small buying network for the procure-to-pay tests: one entity, hospital, cost center,
supplier and three items, mapped for the procurement system and the ERP."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType

from apps.connectors.choices import ConnectorKindChoices, MessageFormatChoices
from apps.connectors.models import Connector
from apps.masterdata.choices import FacilityKindChoices
from apps.masterdata.models import (
    CostCenter,
    CrossReference,
    ExternalSystem,
    Facility,
    Item,
    LegalEntity,
    Supplier,
    SupplierEnablement,
    UnitOfMeasure,
    UomConversion,
)
from apps.masterdata.services.records import normalized_name
from apps.p2p import canonical as doc
from tests.conftest import WEBHOOK_SECRET_ENV

ON = datetime.date(2024, 1, 1)


def mapped(system, target, code: str) -> CrossReference:
    from django.contrib.auth.models import User

    from apps.masterdata.entities import entity_type_for_model

    author, _ = User.objects.get_or_create(username="network-builder")
    return CrossReference.objects.create(
        created_by=author,
        external_system=system,
        entity_type=entity_type_for_model(type(target)).slug,
        external_code=code,
        content_type=ContentType.objects.get_for_model(type(target)),
        object_id=target.pk,
        status="approved",
        effective_from=ON,
    )


@pytest.fixture
def network(db):
    erp = ExternalSystem.objects.create(code="ERP", name="ERP")
    procurement = ExternalSystem.objects.create(code="PROCUREMENT", name="Procurement")
    entity = LegalEntity.objects.create(code="LE1", name="North Health")
    hospital = Facility.objects.create(
        code="HOSP", name="North Hospital", kind=FacilityKindChoices.HOSPITAL, legal_entity=entity
    )
    center = CostCenter.objects.create(code="CC-OR", name="Operating rooms", legal_entity=entity)
    each = UnitOfMeasure.objects.create(code="EA", name="Each")
    box = UnitOfMeasure.objects.create(code="BX", name="Box")
    supplier = Supplier.objects.create(
        code="SUP-1", name="Acme Medical, Inc.", normalized_name=normalized_name("Acme Medical")
    )
    SupplierEnablement.objects.create(supplier=supplier, legal_entity=entity, effective_from=ON)
    items = [
        Item.objects.create(code=f"ITEM-{n}", name=f"Item {n}", stocking_uom=each)
        for n in (1, 2, 3)
    ]
    UomConversion.objects.create(item=items[0], from_uom=box, to_uom=each, factor=Decimal(10))
    mapped(erp, entity, "1000")
    mapped(erp, hospital, "BU10")
    mapped(erp, center, "6100")
    mapped(erp, supplier, "V0001")
    mapped(procurement, supplier, "acme")
    mapped(procurement, hospital, "HOSP")
    for n, item in enumerate(items, start=1):
        mapped(erp, item, f"E-{n}")
        mapped(procurement, item, f"p-{n}")
    targets = {
        name: Connector.objects.create(
            slug=slug,
            name=slug,
            kind=ConnectorKindChoices.REST_OUT,
            settings={"url": f"http://127.0.0.1:9/erp/{slug}"},
        )
        for name, slug in (
            ("erp_orders", "erp-orders"),
            ("erp_receipts", "erp-receipts"),
            ("erp_vouchers", "erp-vouchers"),
        )
    }
    routes = {name: target.slug for name, target in targets.items()}
    procurement_in = Connector.objects.create(
        slug="procurement-po",
        name="Procurement POs",
        kind=ConnectorKindChoices.WEBHOOK_IN,
        document_type=doc.PURCHASE_ORDER,
        settings={"secret_env": WEBHOOK_SECRET_ENV, **routes},
    )
    receipts_in = Connector.objects.create(
        slug="inventory-receipts",
        name="Inventory receipts",
        kind=ConnectorKindChoices.WEBHOOK_IN,
        document_type=doc.RECEIPT,
        settings={"secret_env": WEBHOOK_SECRET_ENV, **routes},
    )
    receipts_csv = Connector.objects.create(
        slug="receipts-csv",
        name="Receipt files",
        kind=ConnectorKindChoices.FILE_IN,
        format=MessageFormatChoices.CSV,
        document_type=doc.RECEIPT,
        settings={"path": "/nonexistent", **routes},
    )
    return {
        "erp": erp,
        "procurement": procurement,
        "entity": entity,
        "hospital": hospital,
        "center": center,
        "supplier": supplier,
        "items": items,
        "each": each,
        "box": box,
        "targets": targets,
        "procurement_in": procurement_in,
        "receipts_in": receipts_in,
        "receipts_csv": receipts_csv,
    }


def po_document(number: str = "PO-1", **changes) -> dict:
    document = {
        "event_id": f"evt-{number}",
        "po_number": number,
        "revision": 1,
        "po_date": "2026-11-02",
        "legal_entity": "LE1",
        "facility": "HOSP",
        "cost_center": "CC-OR",
        "supplier": "acme",
        "currency": "USD",
        "lines": [
            {
                "line_number": "1",
                "item": "p-1",
                "vendor_part": "AC-1",
                "quantity": "10",
                "unit": "EA",
                "unit_price": "12.50",
                "description": "Bone screw",
            },
            {
                "line_number": "2",
                "item": "p-2",
                "vendor_part": "AC-2",
                "quantity": "4",
                "unit": "EA",
                "unit_price": "100.00",
                "description": "Bone plate",
            },
        ],
    }
    document.update(changes)
    return document
