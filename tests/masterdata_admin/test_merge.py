"""Merging duplicates from the admin: two records, a survivor and a reason, a tombstone."""

from django.urls import reverse

from apps.masterdata.models import CrossReference, Item, MergeRecord, Supplier, VendorPart
from tests.masterdata_admin.conftest import (
    confirm_action,
    make_supplier,
    make_xref,
    messages_of,
    run_action,
)


def test_merge_moves_parts_and_mappings_and_leaves_a_tombstone(steward_client, world, steward):
    survivor = world["supplier"]
    duplicate = make_supplier("S2", "ACME Medical LLC")
    part = VendorPart.objects.create(item=world["item"], supplier=duplicate, part_number="X-9")
    xref = make_xref(author=steward, target=duplicate, system=world["erp"], status="approved")

    page = run_action(steward_client, Supplier, "merge_records", [survivor, duplicate])
    assert page.status_code == 200
    assert page.templates[0].name == "admin/masterdata/merge.html"

    response = confirm_action(
        steward_client,
        Supplier,
        "merge_records",
        [survivor, duplicate],
        survivor=survivor.pk,
        reason="Same tax registration",
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse(
        "admin:masterdata_supplier_change", args=[survivor.pk]
    )
    assert any(m.startswith("Merged S2 into S1") for m in messages_of(response))
    part.refresh_from_db()
    xref.refresh_from_db()
    duplicate.refresh_from_db()
    assert part.supplier == survivor
    assert xref.target == survivor
    assert (duplicate.status, duplicate.merged_into) == ("merged", survivor)
    merge = MergeRecord.objects.get()
    assert (merge.merged_code, merge.actor, merge.moved["reason"]) == (
        "S2",
        steward,
        "Same tax registration",
    )
    # The survivor's page shows what was folded into it; the tombstone is read-only.
    assert "Same tax registration" in response.content.decode()
    tombstone = steward_client.get(reverse("admin:masterdata_supplier_change", args=[duplicate.pk]))
    assert 'name="_save"' not in tombstone.content.decode()


def test_merge_needs_exactly_two_records(steward_client, world):
    response = run_action(steward_client, Item, "merge_records", [world["item"]], follow=True)
    assert "Select exactly two records to merge." in messages_of(response)


def test_merge_needs_a_reason(steward_client, world):
    other = Item.objects.create(code="I2", name="Screw", stocking_uom=world["each"])
    response = confirm_action(
        steward_client, Item, "merge_records", [world["item"], other], survivor=other.pk
    )
    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    assert not MergeRecord.objects.exists()


def test_merging_a_tombstone_again_is_refused_with_a_message(steward_client, world, steward):
    first = Item.objects.create(code="I2", name="Screw", stocking_uom=world["each"])
    second = Item.objects.create(code="I3", name="Screw 2", stocking_uom=world["each"])
    confirm_action(
        steward_client, Item, "merge_records", [first, second], survivor=first.pk, reason="dup"
    )
    response = confirm_action(
        steward_client,
        Item,
        "merge_records",
        [world["item"], second],
        survivor=world["item"].pk,
        reason="dup",
        follow=True,
    )
    assert any("merged already" in m for m in messages_of(response))
    assert MergeRecord.objects.count() == 1
    assert CrossReference.objects.count() == 0


def test_merge_history_is_readable_by_stewards(steward_client, world):
    other = Item.objects.create(code="I2", name="Screw", stocking_uom=world["each"])
    confirm_action(
        steward_client,
        Item,
        "merge_records",
        [world["item"], other],
        survivor=world["item"].pk,
        reason="dup",
    )
    listing = steward_client.get(reverse("admin:masterdata_mergerecord_changelist"))
    assert listing.status_code == 200
    record = MergeRecord.objects.get()
    page = steward_client.get(reverse("admin:masterdata_mergerecord_change", args=[record.pk]))
    assert reverse("admin:masterdata_item_change", args=[other.pk]) in page.content.decode()
