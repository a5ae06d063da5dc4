"""Builders for the steward-admin tests: a small master-data world, a second steward, and
helpers that drive the admin like a browser (actions, imports)."""

import datetime
import io

import pytest
from django.contrib.admin import helpers
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.accounts import roles
from apps.masterdata.choices import FacilityKindChoices
from apps.masterdata.entities import entity_type_for_model
from apps.masterdata.models import (
    ChargeCode,
    CrossReference,
    ExternalSystem,
    Facility,
    Item,
    LegalEntity,
    Supplier,
    UnitOfMeasure,
    VendorPart,
)
from apps.masterdata.services import normalized_name
from tests.conftest import _persona

# The console's headless-Chromium fixture, for test_browser.py: imported here so that the tests
# can take it as an argument without shadowing an import of their own module.
from tests.console.test_browser import page  # noqa: F401


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Personas are created with passwords; the real hasher costs ~0.3 s per user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def second_steward(db):
    return _persona("sam", roles.DATA_STEWARD)


@pytest.fixture
def steward_client(client, steward):
    client.force_login(steward)
    return client


def make_supplier(code: str, name: str, **fields) -> Supplier:
    return Supplier.objects.create(
        code=code, name=name, normalized_name=normalized_name(name), **fields
    )


@pytest.fixture
def world(db):
    """One of everything a steward maintains, with codes the tests refer to."""
    entity = LegalEntity.objects.create(code="LE1", name="North Health")
    facility = Facility.objects.create(
        code="F1", name="North Hospital", kind=FacilityKindChoices.HOSPITAL, legal_entity=entity
    )
    each = UnitOfMeasure.objects.create(code="EA", name="Each")
    box = UnitOfMeasure.objects.create(code="BX", name="Box")
    supplier = make_supplier("S1", "Acme Medical, Inc.", tax_id="11-111")
    item = Item.objects.create(
        code="I1", name="Bone screw", stocking_uom=each, gtin="01234567890128"
    )
    part = VendorPart.objects.create(item=item, supplier=supplier, part_number="AC-100", uom=box)
    charge = ChargeCode.objects.create(code="C100", description="Screw", price="12.50")
    erp = ExternalSystem.objects.create(code="ERP", name="The ERP")
    return {
        "entity": entity,
        "facility": facility,
        "each": each,
        "box": box,
        "supplier": supplier,
        "item": item,
        "part": part,
        "charge": charge,
        "erp": erp,
    }


def make_xref(*, author, target, system, code="X-1", status="draft", **fields) -> CrossReference:
    return CrossReference.objects.create(
        external_system=system,
        entity_type=fields.pop("entity_type", entity_type_for_model(type(target)).slug),
        external_code=code,
        content_type=ContentType.objects.get_for_model(type(target)),
        object_id=target.pk,
        created_by=author,
        status=status,
        effective_from=fields.pop("effective_from", datetime.date(2024, 1, 1)),
        **fields,
    )


def changelist(model) -> str:
    return reverse(f"admin:masterdata_{model._meta.model_name}_changelist")


def run_action(client, model, action: str, objects, *, follow=False, **data):
    """Post an admin action for ``objects`` as the changelist does."""
    return client.post(
        changelist(model),
        {
            "action": action,
            helpers.ACTION_CHECKBOX_NAME: [o.pk for o in objects],
            "index": 0,
            **data,
        },
        follow=follow,
    )


def confirm_action(client, model, action: str, objects, *, follow=False, **data):
    """Post the intermediate page of an action (what its form submits)."""
    return client.post(
        changelist(model),
        {
            "action": action,
            helpers.ACTION_CHECKBOX_NAME: [o.pk for o in objects],
            "confirm": "yes",
            **data,
        },
        follow=follow,
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


CSV, XLSX = "0", "1"  # indexes of the import formats offered


def dry_run(client, model, name: str, content: bytes, *, fmt: str = CSV, valid_rows_only=False):
    data = {"import_file": upload(name, content), "format": fmt, "resource": "0"}
    if valid_rows_only:
        data["valid_rows_only"] = "on"
    return client.post(reverse(f"admin:masterdata_{model._meta.model_name}_import"), data)


def confirm_import(client, model, dry_run_response):
    form = dry_run_response.context["confirm_form"]
    data = {name: form.initial.get(name, "") for name in form.fields}
    data = {k: ("on" if v is True else "" if v is False else v) for k, v in data.items()}
    return client.post(
        reverse(f"admin:masterdata_{model._meta.model_name}_process_import"), data, follow=True
    )


def xlsx_bytes(rows: list[list]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    stream = io.BytesIO()
    book.save(stream)
    return stream.getvalue()


def export(client, model, *, fmt: str = CSV) -> bytes:
    """Export every field of the model's resource in the given format."""
    url = reverse(f"admin:masterdata_{model._meta.model_name}_export")
    form = client.get(url).context["form"]
    data = {"format": fmt, "resource": "0"}
    data.update(
        {name: "on" for name, field in form.fields.items() if hasattr(field, "resource_name")}
    )
    response = client.post(url, data)
    assert response.status_code == 200, response.content[:500]
    return response.content


def xlsx_rows(content: bytes) -> list[tuple]:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(content))
    return [tuple(cell.value for cell in row) for row in book.active.iter_rows()], book
