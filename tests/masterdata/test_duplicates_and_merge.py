"""Possible duplicates (on save and by the scan) and merging one record into another."""

import pytest
from auditlog.models import LogEntry

from apps.core.errors import HubError, PermissionDenied
from apps.exceptions.models import BusinessException
from apps.masterdata.choices import ApprovalStatusChoices as Approval
from apps.masterdata.lookup import LookupKey, lookup
from apps.masterdata.models import (
    CrossReference,
    Facility,
    Item,
    LegalEntity,
    MergeRecord,
    Supplier,
    SupplierEnablement,
    SupplierSite,
    ToleranceRule,
    UomConversion,
    VendorPart,
)
from apps.masterdata.services import (
    crossref_propose,
    duplicates_scan,
    normalized_name,
    normalized_part,
    record_history_ids,
    record_merge,
    record_save,
)
from apps.masterdata.tasks import scan_duplicates
from tests.masterdata.builders import (
    D,
    approved_xref,
    audit_entries,
    facility,
    item,
    look,
    supplier,
    uom,
)

pytestmark = pytest.mark.django_db

DUPLICATE = "MASTER_POSSIBLE_DUPLICATE"
ON = D(2026, 3, 1)


def _duplicates():
    return BusinessException.objects.filter(code_id=DUPLICATE).order_by("pk")


def _save_supplier(actor, code, name, **fields):
    return record_save(record=Supplier(code=code, name=name, **fields), actor=actor)


def _save_item(actor, code, **fields):
    fields.setdefault("stocking_uom", uom("EA"))
    return record_save(record=Item(code=code, name=f"Item {code}", **fields), actor=actor)


def _pair_key(entity_type, a, b):
    low, high = sorted((a.pk, b.pk))
    return f"duplicate:{entity_type}:{low}:{high}"


@pytest.mark.parametrize(
    ("name", "normalized"),
    [
        ("ACME, Inc.", "acme"),
        ("Acme Incorporated", "acme"),
        ("acme", "acme"),
        ("Müller GmbH", "muller"),
        ("The Smith & Sons Co.", "smith and sons"),
        ("Inc.", ""),
    ],
)
def test_normalized_name(name, normalized):
    assert normalized_name(name) == normalized


def test_normalized_part():
    assert normalized_part("ABC-123") == normalized_part("abc123") == "ABC123"
    assert normalized_part(" ab/12.3 ") == "AB123"


# --- On save ------------------------------------------------------------------------------------


def test_a_supplier_with_the_same_name_opens_one_exception_however_often_saved(steward):
    first = _save_supplier(steward, "ACME", "ACME, Inc.")
    second = _save_supplier(steward, "ACME-2", "Acme Incorporated")

    assert (first.normalized_name, second.normalized_name) == ("acme", "acme")
    exception = _duplicates().get()
    assert exception.transaction_id is None
    assert exception.root_cause_key == _pair_key("supplier", first, second)
    assert (exception.status, exception.occurrences, exception.team_id) == (
        "open",
        1,
        exception.code.owning_team_id,
    )
    assert exception.details == {
        "entity_type": "supplier",
        "ids": [first.pk, second.pk],
        "codes": ["ACME", "ACME-2"],
        "reason": "same name",
    }
    assert exception.summary == (
        "Supplier ACME and ACME-2 may be the same (same name); merge them or mark them distinct."
    )
    created = audit_entries(second).get()
    assert (created.action, created.actor) == (LogEntry.Action.CREATE, steward)

    second.payment_terms = "NET30"
    record_save(record=second, actor=steward)
    record_save(record=first, actor=steward)

    exception = _duplicates().get()
    assert exception.occurrences == 3
    assert list(exception.activities.values_list("kind", flat=True)) == [
        "opened",
        "reoccurred",
        "reoccurred",
    ]


def test_a_supplier_with_the_same_tax_id_is_a_possible_duplicate(steward):
    globex = _save_supplier(steward, "GLOBEX", "Globex", tax_id="DE811")
    _save_supplier(steward, "NOTAX-1", "Hooli")
    _save_supplier(steward, "NOTAX-2", "Pied Piper")  # both without tax id: not the same
    initech = _save_supplier(steward, "INITECH", "Initech", tax_id="DE811")

    exception = _duplicates().get()
    assert exception.root_cause_key == _pair_key("supplier", globex, initech)
    assert exception.details["reason"] == "same tax id"


def test_items_with_the_same_gtin_are_possible_duplicates(steward):
    first = _save_item(steward, "STENT-A", gtin="00012345678905")
    _save_item(steward, "GAUZE", gtin="00012345678912")
    second = _save_item(steward, "STENT-B", gtin="00012345678905")

    exception = _duplicates().get()
    assert exception.root_cause_key == _pair_key("item", first, second)
    assert exception.details["reason"] == "same GTIN"


def test_items_with_the_same_vendor_part_of_one_supplier_are_possible_duplicates(steward):
    acme, globex = supplier("ACME", "Acme"), supplier("GLOBEX", "Globex")
    first, second, third = item("STENT-A"), item("STENT-B"), item("STENT-C")

    record_save(record=VendorPart(item=first, supplier=acme, part_number="ABC-123"), actor=steward)
    assert not _duplicates().exists()
    record_save(record=VendorPart(item=third, supplier=globex, part_number="abc123"), actor=steward)
    assert not _duplicates().exists()  # another supplier's part number
    record_save(record=VendorPart(item=second, supplier=acme, part_number="abc123"), actor=steward)

    exception = _duplicates().get()
    assert exception.root_cause_key == _pair_key("item", first, second)
    assert exception.details["reason"] == "same vendor part"
    assert exception.details["codes"] == ["STENT-A", "STENT-B"]


def test_the_scan_finds_every_pair_set_based_and_leaves_known_pairs_alone(
    steward, django_assert_max_num_queries
):
    for n in range(10):  # records created without record_save: nobody has checked them yet
        supplier(f"A{n}", f"Acme {n}, Inc.")
        supplier(f"B{n}", f"ACME {n} Incorporated")
    supplier("G1", "Globex", tax_id="DE811")
    supplier("G2", "Initech", tax_id="DE811")
    supplier("M1", "Acme 1", status="merged")  # a tombstone is nobody's duplicate
    item("STENT-A", gtin="00012345678905")
    item("STENT-B", gtin="00012345678905")
    acme = Supplier.objects.get(code="A0")
    VendorPart.objects.create(item=item("GAUZE-A"), supplier=acme, part_number="X-1")
    VendorPart.objects.create(item=item("GAUZE-B"), supplier=acme, part_number="x1")

    # Two pair queries, the open pairs, one upsert of all exceptions, however many pairs.
    with django_assert_max_num_queries(12):
        assert duplicates_scan() == 13

    assert _duplicates().count() == 13
    reasons = sorted(_duplicates().values_list("details__reason", flat=True))
    assert reasons == ["same GTIN"] + ["same name"] * 10 + ["same tax id", "same vendor part"]
    assert scan_duplicates() == 13  # the Celery task, called directly
    assert _duplicates().count() == 13
    # A periodic scan finding a known pair again is not a new occurrence.
    assert set(_duplicates().values_list("occurrences", flat=True)) == {1}


# --- Merge --------------------------------------------------------------------------------------


@pytest.fixture
def pair(erp, legal_entity, steward, checker):
    """ACME (survivor) and ACME-2 (its duplicate), each with things a merge must move."""
    other_entity = LegalEntity.objects.create(code="LE2", name="Other group")
    survivor = _save_supplier(steward, "ACME", "Acme Inc", tax_id="US1")
    merged = _save_supplier(steward, "ACME-2", "ACME, Incorporated")
    stent, gauze = item("STENT"), item("GAUZE")
    approved_xref(steward, checker, code="E-ACME", target=survivor)
    approved_xref(steward, checker, code="E-ACME-2", target=merged)
    crossref_propose(
        actor=steward, system="ERP", entity_type="supplier", external_code="E-ACME-3", target=merged
    )
    VendorPart.objects.create(item=gauze, supplier=survivor, part_number="P-2")
    VendorPart.objects.create(item=stent, supplier=merged, part_number="P-1")
    VendorPart.objects.create(item=gauze, supplier=merged, part_number="P-2")  # conflict
    SupplierEnablement.objects.create(supplier=survivor, legal_entity=legal_entity)
    SupplierEnablement.objects.create(supplier=merged, legal_entity=legal_entity)  # conflict
    SupplierEnablement.objects.create(supplier=merged, legal_entity=other_entity)
    SupplierSite.objects.create(supplier=survivor, code="HQ", name="Head office")
    SupplierSite.objects.create(supplier=merged, code="HQ", name="Head office")  # conflict
    SupplierSite.objects.create(supplier=merged, code="WH", name="Warehouse")
    ToleranceRule.objects.create(
        name="Acme-2 price",
        supplier=merged,
        level="line",
        measure="price",
        percent=2,
        status=Approval.APPROVED,
        created_by=steward,
    )
    return survivor, merged


def test_only_stewards_merge(request, pair):
    survivor, merged = pair
    for persona in ("viewer", "engineer", "outsider"):
        with pytest.raises(PermissionDenied):
            record_merge(
                model=Supplier,
                survivor_id=survivor.pk,
                merged_id=merged.pk,
                actor=request.getfixturevalue(persona),
                reason="Same company",
            )
    merged.refresh_from_db()
    assert (merged.status, merged.merged_into) == ("active", None)
    assert not MergeRecord.objects.exists()
    assert _duplicates().get().status == "open"


def test_a_merge_is_refused_with_a_code(pair, steward, legal_entity):
    survivor, merged = pair
    third = supplier("THIRD", "Third")

    def merge(model=Supplier, survivor_id=survivor.pk, merged_id=merged.pk, reason="Same"):
        with pytest.raises(HubError) as raised:
            record_merge(
                model=model,
                survivor_id=survivor_id,
                merged_id=merged_id,
                actor=steward,
                reason=reason,
            )
        return raised.value.code

    assert merge(merged_id=survivor.pk) == "MERGE_SAME_RECORD"
    assert merge(reason="  ") == "REASON_REQUIRED"
    assert merge(merged_id=merged.pk + 1000) == "MERGE_NOT_FOUND"
    north, south = facility("NORTH", legal_entity), facility("SOUTH", legal_entity)
    assert merge(Facility, north.pk, south.pk) == "MERGE_NOT_SUPPORTED"
    assert MergeRecord.objects.count() == 0

    record_merge(
        model=Supplier, survivor_id=survivor.pk, merged_id=merged.pk, actor=steward, reason="Same"
    )
    assert merge() == "MERGE_ALREADY_MERGED"
    assert merge(survivor_id=third.pk) == "MERGE_ALREADY_MERGED"
    assert merge(survivor_id=merged.pk, merged_id=third.pk) == "MERGE_ALREADY_MERGED"
    assert MergeRecord.objects.count() == 1
    third.refresh_from_db()
    assert third.status == "active"


def test_merging_a_supplier_moves_what_it_can_and_keeps_a_tombstone(
    pair, steward, django_capture_on_commit_callbacks
):
    survivor, merged = pair
    by_mapping = LookupKey("ERP", "supplier", "E-ACME-2")
    by_code = LookupKey("canonical", "supplier", "ACME-2")
    assert lookup(by_mapping, on=ON).record_id == lookup(by_code, on=ON).record_id == merged.pk
    duplicate = _duplicates().get()
    assert duplicate.root_cause_key == _pair_key("supplier", survivor, merged)

    with django_capture_on_commit_callbacks(execute=True):
        record = record_merge(
            model=Supplier,
            survivor_id=survivor.pk,
            merged_id=merged.pk,
            actor=steward,
            reason=" Same company, two records ",
        )

    record.refresh_from_db()
    assert (record.entity_type, record.survivor_id, record.merged_id, record.merged_code) == (
        "supplier",
        survivor.pk,
        merged.pk,
        "ACME-2",
    )
    assert record.actor == steward
    assert record.moved == {
        "cross_references": 2,
        "vendor_parts": 1,
        "vendor_parts_left_behind": 1,
        "enablements": 1,
        "enablements_left_behind": 1,
        "sites": 1,
        "sites_left_behind": 1,
        "tolerance_rules": 1,
        "tolerance_rules_left_behind": 0,
        "reason": "Same company, two records",
    }
    merged.refresh_from_db()
    assert (merged.status, merged.merged_into) == ("merged", survivor)
    tombstoned = audit_entries(merged, LogEntry.Action.UPDATE).last()
    assert tombstoned.actor == steward
    assert tombstoned.changes_dict["status"] == ["active", "merged"]
    # Everything that could move points at the survivor; conflicts stayed with the tombstone.
    assert set(
        CrossReference.objects.filter(external_code__startswith="E-ACME-").values_list(
            "object_id", "status"
        )
    ) == {(survivor.pk, Approval.APPROVED), (survivor.pk, Approval.DRAFT)}
    assert sorted(survivor.vendor_parts.values_list("part_number", flat=True)) == ["P-1", "P-2"]
    assert list(merged.vendor_parts.values_list("part_number", flat=True)) == ["P-2"]
    assert sorted(survivor.enablements.values_list("legal_entity__code", flat=True)) == [
        "LE1",
        "LE2",
    ]
    assert list(merged.enablements.values_list("legal_entity__code", flat=True)) == ["LE1"]
    assert sorted(survivor.sites.values_list("code", flat=True)) == ["HQ", "WH"]
    assert list(merged.sites.values_list("code", flat=True)) == ["HQ"]
    assert survivor.tolerance_rules.get().name == "Acme-2 price"
    # The possible-duplicate exception is resolved by the steward who merged.
    duplicate.refresh_from_db()
    assert duplicate.status == "resolved"
    assert duplicate.resolution == "Merged ACME-2 into ACME: Same company, two records"
    assert list(duplicate.activities.values_list("kind", "actor")) == [
        ("opened", None),
        ("resolved", steward.pk),
    ]
    # History and lookups follow the survivor.
    assert record_history_ids(model=Supplier, record_id=survivor.pk) == [survivor.pk, merged.pk]
    assert record_history_ids(model=Supplier, record_id=merged.pk) == [merged.pk]
    for key in (by_mapping, by_code):
        answer = lookup(key, on=ON)
        assert (answer.ok, answer.record_id, answer.code) == (True, survivor.pk, "ACME"), key


def test_merging_an_item_moves_parts_conversions_rules_and_mappings(
    erp, steward, checker, django_capture_on_commit_callbacks
):
    acme = supplier("ACME", "Acme")
    survivor = _save_item(steward, "STENT-A", gtin="00012345678905")
    merged = _save_item(steward, "STENT-B", gtin="00012345678905")
    approved_xref(steward, checker, code="E-STENT-B", target=merged, entity_type="item")
    VendorPart.objects.create(item=merged, supplier=acme, part_number="X-9")
    each, box, case = uom("EA"), uom("BX"), uom("CS")
    UomConversion.objects.create(item=survivor, from_uom=box, to_uom=each, factor=12)
    UomConversion.objects.create(item=merged, from_uom=box, to_uom=each, factor=10)  # conflict
    UomConversion.objects.create(item=merged, from_uom=case, to_uom=each, factor=48)
    ToleranceRule.objects.create(
        name="Stent qty",
        item=merged,
        level="line",
        measure="quantity",
        percent=1,
        status=Approval.APPROVED,
        created_by=steward,
    )
    assert look("E-STENT-B", ON, entity_type="item").record_id == merged.pk

    with django_capture_on_commit_callbacks(execute=True):
        record = record_merge(
            model=Item, survivor_id=survivor.pk, merged_id=merged.pk, actor=steward, reason="GTIN"
        )

    assert record.moved == {
        "cross_references": 1,
        "vendor_parts": 1,
        "vendor_parts_left_behind": 0,
        "uom_conversions": 1,
        "uom_conversions_left_behind": 1,
        "tolerance_rules": 1,
        "tolerance_rules_left_behind": 0,
        "reason": "GTIN",
    }
    merged.refresh_from_db()
    assert (merged.status, merged.merged_into) == ("merged", survivor)
    assert survivor.vendor_parts.get().part_number == "X-9"
    assert set(survivor.uom_conversions.values_list("from_uom__code", "factor")) == {
        ("BX", 12),
        ("CS", 48),
    }
    assert survivor.tolerance_rules.get().name == "Stent qty"
    assert _duplicates().get().status == "resolved"
    assert record_history_ids(model=Item, record_id=survivor.pk) == [survivor.pk, merged.pk]
    assert look("E-STENT-B", ON, entity_type="item").record_id == survivor.pk
    assert look("STENT-B", ON, entity_type="item", system="canonical").record_id == survivor.pk


def test_a_merged_record_is_nobodys_duplicate_any_more(pair, steward):
    survivor, merged = pair
    record_merge(
        model=Supplier, survivor_id=survivor.pk, merged_id=merged.pk, actor=steward, reason="Same"
    )

    assert duplicates_scan() == 0
    record_save(record=survivor, actor=steward)
    assert not _duplicates().filter(status="open").exists()


def test_what_a_merge_moves_is_audited_as_the_stewards_change(pair, steward):
    survivor, merged = pair

    record_merge(
        model=Supplier, survivor_id=survivor.pk, merged_id=merged.pk, actor=steward, reason="Same"
    )

    moved = CrossReference.objects.get(external_code="E-ACME-2")
    entry = audit_entries(moved, LogEntry.Action.UPDATE).last()
    assert entry.changes_dict["object_id"] == [str(merged.pk), str(survivor.pk)]
    assert entry.actor == steward
    site = SupplierSite.objects.get(supplier=survivor, code="WH")
    assert audit_entries(site, LogEntry.Action.UPDATE).last().actor == steward


def _merge_chain(steward):
    """C is merged into B, then B into A."""
    a, b, c = supplier("A", "Alpha"), supplier("B", "Beta"), supplier("C", "Gamma")
    record_merge(model=Supplier, survivor_id=b.pk, merged_id=c.pk, actor=steward, reason="1")
    record_merge(model=Supplier, survivor_id=a.pk, merged_id=b.pk, actor=steward, reason="2")
    return a, b, c


def test_lookups_follow_a_chain_of_merges_to_the_last_survivor(db, steward):
    a, _, _ = _merge_chain(steward)

    answer = look("C", ON, system="canonical")

    assert (answer.ok, answer.record_id) == (True, a.pk)


def test_history_follows_a_chain_of_merges(db, steward):
    a, b, c = _merge_chain(steward)

    assert sorted(record_history_ids(model=Supplier, record_id=a.pk)) == sorted([a.pk, b.pk, c.pk])
