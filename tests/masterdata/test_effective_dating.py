"""Effective dating: mappings and records answer only inside their window; changes hand over."""

import pytest
from auditlog.models import LogEntry

from apps.masterdata.choices import ApprovalStatusChoices as Approval
from apps.masterdata.models import ChargeCode, CrossReference
from apps.masterdata.services import crossref_approve, crossref_propose, crossref_retire
from tests.masterdata.builders import (
    D,
    approved_xref,
    audit_entries,
    cost_center,
    item,
    look,
    supplier,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_suppliers(erp):
    return supplier("ACME", "Acme"), supplier("GLOBEX", "Globex")


def test_a_mapping_resolves_inside_its_window_and_misses_before_and_after(
    two_suppliers, steward, checker
):
    acme, _ = two_suppliers
    approved_xref(
        steward,
        checker,
        code="V100",
        target=acme,
        effective_from=D(2026, 1, 1),
        effective_to=D(2026, 6, 30),
    )

    for day in (D(2026, 1, 1), D(2026, 3, 15), D(2026, 6, 30)):
        hit = look("V100", day)
        assert (hit.ok, hit.record_id, hit.code) == (True, acme.pk, "ACME"), day
    for day in (D(2025, 12, 31), D(2026, 7, 1)):
        miss = look("V100", day)
        assert (miss.miss, miss.record_id) == ("SUPPLIER_UNKNOWN", None), day
        assert miss.reason == "No approved mapping of ERP supplier 'V100'."


def test_an_approved_change_ends_the_old_mapping_the_day_before_it_starts(
    two_suppliers, steward, checker
):
    acme, globex = two_suppliers
    old = approved_xref(steward, checker, code="V100", target=acme, effective_from=D(2026, 1, 1))
    change = crossref_propose(
        actor=steward,
        system="ERP",
        entity_type="supplier",
        external_code="V100",
        target=globex,
        effective_from=D(2026, 7, 1),
        supersedes=old,
    )
    # A draft changes nothing.
    assert look("V100", D(2026, 8, 1)).record_id == acme.pk

    crossref_approve(xref_id=change.pk, actor=checker)

    old.refresh_from_db()
    change.refresh_from_db()
    assert (old.status, old.effective_from, old.effective_to) == (
        Approval.APPROVED,
        D(2026, 1, 1),
        D(2026, 6, 30),
    )
    assert (change.status, change.effective_to, change.decided_by) == (
        Approval.APPROVED,
        None,
        checker,
    )
    assert look("V100", D(2026, 6, 30)).record_id == acme.pk
    assert look("V100", D(2026, 7, 1)).record_id == globex.pk
    assert look("V100", D(2030, 1, 1)).record_id == globex.pk
    # The shortened old mapping is audited as the approver's change.
    ended = audit_entries(old, LogEntry.Action.UPDATE).last()
    assert ended.actor == checker
    assert ended.changes_dict["effective_to"] == ["None", "2026-06-30"]


def test_a_change_starting_the_same_day_retires_the_old_mapping(two_suppliers, steward, checker):
    acme, globex = two_suppliers
    old = approved_xref(steward, checker, code="V100", target=acme, effective_from=D(2026, 1, 1))
    change = crossref_propose(
        actor=checker,
        system="ERP",
        entity_type="supplier",
        external_code="V100",
        target=globex,
        effective_from=D(2026, 1, 1),
        supersedes=old,
    )

    crossref_approve(xref_id=change.pk, actor=steward)

    old.refresh_from_db()
    assert (old.status, old.effective_to) == (Approval.RETIRED, None)
    assert look("V100", D(2026, 1, 1)).record_id == globex.pk
    assert CrossReference.objects.filter(status=Approval.APPROVED).get() == change


def test_a_change_never_extends_a_mapping_that_already_ended(two_suppliers, steward, checker):
    acme, globex = two_suppliers
    old = approved_xref(
        steward,
        checker,
        code="V100",
        target=acme,
        effective_from=D(2026, 1, 1),
        effective_to=D(2026, 3, 31),
    )
    change = crossref_propose(
        actor=steward,
        system="ERP",
        entity_type="supplier",
        external_code="V100",
        target=globex,
        effective_from=D(2026, 7, 1),
        supersedes=old,
    )

    crossref_approve(xref_id=change.pk, actor=checker)

    old.refresh_from_db()
    assert old.effective_to == D(2026, 3, 31)
    assert look("V100", D(2026, 5, 1)).miss == "SUPPLIER_UNKNOWN"


def test_retiring_a_mapping_ends_it_on_the_last_day(two_suppliers, steward, checker):
    acme, _ = two_suppliers
    xref = approved_xref(steward, checker, code="V100", target=acme, effective_from=D(2026, 1, 1))

    crossref_retire(xref_id=xref.pk, actor=checker, reason="Supplier left", last_day=D(2026, 3, 31))

    xref.refresh_from_db()
    assert (xref.status, xref.effective_to, xref.decision_reason) == (
        Approval.APPROVED,
        D(2026, 3, 31),
        "Supplier left",
    )
    assert look("V100", D(2026, 3, 31)).ok
    assert look("V100", D(2026, 4, 1)).miss == "SUPPLIER_UNKNOWN"
    retired = audit_entries(xref, LogEntry.Action.UPDATE).last()
    assert retired.actor == checker


def test_retiring_a_mapping_before_it_starts_retires_it(two_suppliers, steward, checker):
    acme, _ = two_suppliers
    xref = approved_xref(steward, checker, code="V100", target=acme, effective_from=D(2026, 7, 1))

    crossref_retire(xref_id=xref.pk, actor=checker, reason="Not needed", last_day=D(2026, 6, 1))

    xref.refresh_from_db()
    assert xref.status == Approval.RETIRED
    assert look("V100", D(2026, 8, 1)).miss == "SUPPLIER_UNKNOWN"


def test_retiring_never_extends_a_mapping(two_suppliers, steward, checker):
    acme, _ = two_suppliers
    xref = approved_xref(
        steward,
        checker,
        code="V100",
        target=acme,
        effective_from=D(2026, 1, 1),
        effective_to=D(2026, 3, 31),
    )

    crossref_retire(xref_id=xref.pk, actor=checker, reason="Tidy up", last_day=D(2026, 9, 30))

    xref.refresh_from_db()
    assert xref.effective_to == D(2026, 3, 31)
    assert look("V100", D(2026, 5, 1)).miss == "SUPPLIER_UNKNOWN"


# --- Records outside their own window ------------------------------------------------------------


def _record(entity_type, legal_entity, **fields):
    if entity_type == "supplier":
        return supplier("REC1", **fields)
    if entity_type == "item":
        return item("REC1", **fields)
    return cost_center("REC1", legal_entity, **fields)


MISS_CODES = {
    "supplier": ("SUPPLIER_UNKNOWN", "Supplier"),
    "item": ("ITEM_UNKNOWN", "Item"),
    "cost_center": ("COST_CENTER_INVALID", "Cost center"),
}


@pytest.mark.parametrize("entity_type", list(MISS_CODES))
def test_a_mapped_record_outside_its_window_or_inactive_is_a_coded_miss(
    entity_type, erp, legal_entity, steward, checker
):
    record = _record(
        entity_type, legal_entity, effective_from=D(2026, 1, 1), effective_to=D(2026, 6, 30)
    )
    approved_xref(steward, checker, code="X1", target=record, entity_type=entity_type)
    code, label = MISS_CODES[entity_type]

    inside = look("X1", D(2026, 6, 30), entity_type=entity_type)
    assert (inside.ok, inside.record_id) == (True, record.pk)
    for day in (D(2025, 12, 31), D(2026, 7, 1)):
        outside = look("X1", day, entity_type=entity_type)
        assert (outside.miss, outside.record_id, outside.code) == (code, record.pk, "REC1")
        assert outside.reason == f"{label} REC1 is not in use on {day} (active)."

    type(record).objects.filter(pk=record.pk).update(status="inactive")
    inactive = look("X1", D(2026, 3, 1), entity_type=entity_type)
    assert inactive.miss == code
    assert inactive.reason == f"{label} REC1 is not in use on 2026-03-01 (inactive)."


@pytest.mark.parametrize("entity_type", list(MISS_CODES))
def test_a_canonical_code_outside_its_window_is_a_coded_miss(entity_type, legal_entity):
    _record(entity_type, legal_entity, effective_from=D(2026, 1, 1), effective_to=D(2026, 6, 30))
    code, label = MISS_CODES[entity_type]

    assert look("REC1", D(2026, 1, 1), entity_type=entity_type, system="canonical").ok
    outside = look("REC1", D(2026, 7, 1), entity_type=entity_type, system="canonical")
    assert (outside.miss, outside.record_id) == (code, None)
    assert outside.reason == f"No {label.lower()} has the code 'REC1' on 2026-07-01."


def test_each_date_finds_its_charge_code_version(db):
    old = ChargeCode.objects.create(
        code="CDM100", description="Stent", price="100.00", effective_to=D(2025, 12, 31)
    )
    new = ChargeCode.objects.create(
        code="CDM100", description="Stent", price="120.00", effective_from=D(2026, 1, 1)
    )

    def version(day):
        return look("CDM100", day, entity_type="charge_code", system="canonical")

    assert version(D(2025, 12, 31)).record_id == old.pk
    assert version(D(2026, 1, 1)).record_id == new.pk
    before = version(D(1999, 12, 31))
    assert (before.miss, before.record_id) == ("VALUE_MAPPING_MISSING", None)

    ChargeCode.objects.filter(pk=new.pk).update(status="inactive")
    retired = version(D(2026, 2, 1))
    assert (retired.miss, retired.record_id) == ("VALUE_MAPPING_MISSING", new.pk)
