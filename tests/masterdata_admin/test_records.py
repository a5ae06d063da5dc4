"""Saving records from the admin goes through the records service (derived fields, duplicate
checks, audit), and records are retired or merged, never deleted."""

import datetime

from auditlog.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from apps.exceptions.catalogue import codes
from apps.exceptions.models import BusinessException
from apps.masterdata.models import LegalEntity, Supplier, VendorPart
from tests.masterdata_admin.conftest import changelist, messages_of, run_action

SUPPLIER_FORM = {
    "code": "S2",
    "name": "ACME MEDICAL LLC",
    "status": "active",
    "tax_id": "",
    "payment_terms": "NET30",
    "effective_from": "2000-01-01",
    "effective_to": "",
    "sites-TOTAL_FORMS": "0",
    "sites-INITIAL_FORMS": "0",
    "enablements-TOTAL_FORMS": "0",
    "enablements-INITIAL_FORMS": "0",
    "masterdata-crossreference-content_type-object_id-TOTAL_FORMS": "0",
    "masterdata-crossreference-content_type-object_id-INITIAL_FORMS": "0",
}


def test_saving_a_similar_supplier_opens_a_possible_duplicate_exception(
    steward_client, world, steward
):
    response = steward_client.post(reverse("admin:masterdata_supplier_add"), SUPPLIER_FORM)
    assert response.status_code == 302, response.context["adminform"].form.errors
    new = Supplier.objects.get(code="S2")
    assert new.normalized_name == "acme medical"  # derived by the service, not the form
    duplicate = BusinessException.objects.get(code_id=codes.MASTER_POSSIBLE_DUPLICATE)
    assert duplicate.details["codes"] == ["S1", "S2"]
    entry = LogEntry.objects.get_for_object(new).get()
    assert entry.actor == steward


def test_a_supplier_named_only_by_its_legal_form_is_refused(steward_client, world):
    response = steward_client.post(
        reverse("admin:masterdata_supplier_add"), {**SUPPLIER_FORM, "name": "The Company Inc."}
    )
    assert response.status_code == 200
    assert "tells this supplier apart" in str(response.context["adminform"].form.errors)
    assert not Supplier.objects.filter(code="S2").exists()


def test_a_vendor_part_added_inline_is_checked_for_duplicate_items(steward_client, world):
    item = world["item"]
    other = type(item).objects.create(code="I2", name="Screw, bone", stocking_uom=world["each"])
    url = reverse("admin:masterdata_item_change", args=[other.pk])
    response = steward_client.post(
        url,
        {
            "code": "I2",
            "name": "Screw, bone",
            "gtin": "",
            "stocking_uom": world["each"].pk,
            "charge_code": "",
            "status": "active",
            "effective_from": "2000-01-01",
            "effective_to": "",
            "vendor_parts-TOTAL_FORMS": "1",
            "vendor_parts-INITIAL_FORMS": "0",
            "vendor_parts-0-supplier": world["supplier"].pk,
            "vendor_parts-0-part_number": "ac 100",
            "vendor_parts-0-uom": "",
            "masterdata-crossreference-content_type-object_id-TOTAL_FORMS": "0",
            "masterdata-crossreference-content_type-object_id-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    assert VendorPart.objects.filter(item=other, part_number="ac 100").exists()
    duplicate = BusinessException.objects.get(code_id=codes.MASTER_POSSIBLE_DUPLICATE)
    assert duplicate.details["reason"] == "same vendor part"


def test_merged_is_not_a_status_a_steward_can_pick(steward_client, world):
    response = steward_client.get(reverse("admin:masterdata_supplier_add"))
    choices = dict(response.context["adminform"].form.fields["status"].choices)
    assert "merged" not in choices
    assert "blocked" in choices


def test_retire_action_ends_validity_today(steward_client, world):
    entity = world["entity"]
    response = run_action(steward_client, LegalEntity, "retire_records", [entity], follow=True)
    entity.refresh_from_db()
    assert entity.effective_to == timezone.localdate()
    assert "1 record(s) end today." in messages_of(response)


def test_retire_refused_by_validation_is_reported_not_raised(steward_client, world):
    entity = world["entity"]
    entity.effective_from = timezone.localdate() + datetime.timedelta(days=10)
    entity.save()
    response = run_action(steward_client, LegalEntity, "retire_records", [entity], follow=True)
    assert response.status_code == 200
    assert any("LE1" in m for m in messages_of(response))
    entity.refresh_from_db()
    assert entity.effective_to is None


def test_supplier_list_shows_derived_fields_read_only(steward_client, world):
    page = steward_client.get(
        reverse("admin:masterdata_supplier_change", args=[world["supplier"].pk])
    )
    form = page.context["adminform"].form
    assert "normalized_name" not in form.fields
    assert "merged_into" not in form.fields
    assert "acme medical" in page.content.decode()
    assert steward_client.get(changelist(Supplier)).status_code == 200
