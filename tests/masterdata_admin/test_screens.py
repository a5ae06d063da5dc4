"""Every steward screen renders, and the admin's permission matrix holds."""

import pytest
from django.contrib import admin
from django.urls import reverse

from apps.masterdata.models import MergeRecord, Supplier
from tests.masterdata_admin.conftest import changelist, make_xref

MODEL_ADMINS = [model for model in admin.site._registry if model._meta.app_label == "masterdata"]


def test_every_masterdata_model_has_an_admin():
    names = {model.__name__ for model in MODEL_ADMINS}
    assert names == {
        "ExternalSystem",
        "LegalEntity",
        "Facility",
        "Department",
        "CostCenter",
        "GLAccount",
        "ServiceLine",
        "FundingSource",
        "Supplier",
        "UnitOfMeasure",
        "UomConversion",
        "Item",
        "VendorPart",
        "ChargeCode",
        "CrossReference",
        "ToleranceRule",
        "MergeRecord",
    }


@pytest.mark.parametrize("model", MODEL_ADMINS, ids=lambda m: m.__name__)
def test_steward_opens_every_list_and_add_page(steward_client, world, steward, model):
    make_xref(author=steward, target=world["supplier"], system=world["erp"])
    response = steward_client.get(changelist(model))
    assert response.status_code == 200
    add = steward_client.get(reverse(f"admin:masterdata_{model._meta.model_name}_add"))
    assert add.status_code == (403 if model is MergeRecord else 200)


@pytest.mark.parametrize(
    "key", ["entity", "facility", "each", "supplier", "item", "part", "charge", "erp"]
)
def test_steward_opens_record_pages_with_their_history(steward_client, world, key):
    record = world[key]
    name = record._meta.model_name
    page = steward_client.get(reverse(f"admin:masterdata_{name}_change", args=[record.pk]))
    assert page.status_code == 200
    history = reverse(f"admin:masterdata_{name}_auditlog", args=[record.pk])
    assert history in page.content.decode()
    assert steward_client.get(history).status_code == 200


def test_record_page_lists_its_cross_references_and_offers_a_proposal(
    steward_client, world, steward
):
    make_xref(author=steward, target=world["supplier"], system=world["erp"], code="ACME-77")
    page = steward_client.get(
        reverse("admin:masterdata_supplier_change", args=[world["supplier"].pk])
    ).content.decode()
    assert "ACME-77" in page
    assert reverse("admin:masterdata_crossreference_add") + "?entity_type=supplier" in page


def test_changelist_search_and_filters_work(steward_client, world):
    response = steward_client.get(changelist(Supplier), {"q": "acme", "status__exact": "active"})
    assert list(response.context["cl"].result_list) == [world["supplier"]]
    response = steward_client.get(changelist(Supplier), {"in_effect": "ended"})
    assert list(response.context["cl"].result_list) == []


def test_autocomplete_finds_records_by_code(steward_client, world):
    response = steward_client.get(
        reverse("admin:autocomplete"),
        {
            "term": "LE",
            "app_label": "masterdata",
            "model_name": "facility",
            "field_name": "legal_entity",
        },
    )
    assert response.status_code == 200
    assert [r["text"] for r in response.json()["results"]] == ["LE1 — North Health"]


def test_viewer_has_no_admin_and_an_outsider_is_refused(client, viewer, outsider, world):
    # Viewers read master data in the console; the admin is for staff roles only.
    client.force_login(viewer)
    assert client.get(changelist(Supplier)).status_code == 302
    client.force_login(outsider)
    assert client.get(changelist(Supplier)).status_code == 302
    outsider.is_staff = True
    outsider.save()
    assert client.get(changelist(Supplier)).status_code == 403


@pytest.mark.parametrize("persona", ["engineer", "auditor"])
def test_staff_without_the_steward_role_see_but_cannot_change(client, world, persona, request):
    client.force_login(request.getfixturevalue(persona))
    supplier = world["supplier"]
    url = reverse("admin:masterdata_supplier_change", args=[supplier.pk])
    assert client.get(changelist(Supplier)).status_code == 200
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert client.post(url, {"code": "S1", "name": "Renamed"}).status_code == 403
    assert client.get(reverse("admin:masterdata_supplier_add")).status_code == 403
    assert client.get(reverse("admin:masterdata_supplier_import")).status_code == 403
    supplier.refresh_from_db()
    assert supplier.name == "Acme Medical, Inc."


def test_nothing_can_be_deleted(steward_client, world):
    url = reverse("admin:masterdata_supplier_delete", args=[world["supplier"].pk])
    assert steward_client.get(url).status_code == 403
    actions = steward_client.get(changelist(Supplier)).context["action_form"].fields["action"]
    assert "delete_selected" not in dict(actions.choices)


def test_admin_index_of_the_app_links_to_the_approval_queue(steward_client):
    page = steward_client.get(reverse("admin:app_list", args=["masterdata"])).content.decode()
    assert "/admin/masterdata/crossreference/?status__exact=draft" in page
    assert "/admin/masterdata/tolerancerule/?status__exact=draft" in page
