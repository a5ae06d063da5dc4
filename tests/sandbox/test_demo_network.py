"""The demo network: its shape, a second run that changes nothing, and the planted flaws."""

import datetime
from collections import Counter

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings

from apps.core.errors import HubError
from apps.exceptions.catalogue import codes
from apps.exceptions.models import BusinessException
from apps.masterdata import cache
from apps.masterdata import models as md
from apps.masterdata.lookup import (
    LookupKey,
    UomKey,
    lookup_many,
    require_chargeable,
    require_enabled,
    uom_factors,
)
from apps.sandbox.demo_network import (
    BILLING,
    BLOCKED,
    EDI_PARTNERS,
    ERP,
    PROCUREMENT,
    X12,
    demo_network_build,
    demo_network_plan,
    erp_vendor_id,
    gtin14,
)

pytestmark = pytest.mark.django_db
TODAY = datetime.date(2026, 11, 21)
FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="module")
def network(django_db_setup, django_db_blocker):
    """One generation for the whole module (it takes seconds), rolled back afterwards; each
    test runs in a savepoint inside it."""
    with (
        django_db_blocker.unblock(),
        override_settings(PASSWORD_HASHERS=FAST_HASHER, SANDBOX_ENABLED=True),
        transaction.atomic(),
    ):
        summary = demo_network_build()
        yield summary, demo_network_plan()
        transaction.set_rollback(True)


@pytest.fixture(autouse=True)
def _fresh_lookup_cache():
    # Answers cached by earlier test modules came from other data.
    cache.bump()


def _table_state() -> dict:
    models = [
        md.ExternalSystem,
        md.UnitOfMeasure,
        md.LegalEntity,
        md.Facility,
        md.Department,
        md.CostCenter,
        md.GLAccount,
        md.ServiceLine,
        md.FundingSource,
        md.Supplier,
        md.SupplierSite,
        md.SupplierEnablement,
        md.ChargeCode,
        md.Item,
        md.VendorPart,
        md.UomConversion,
        md.CrossReference,
        md.ToleranceRule,
    ]
    state = {
        model.__name__: (model.objects.count(), max(model.objects.values_list("pk", flat=True)))
        for model in models
    }
    state["exceptions"] = sorted(
        BusinessException.objects.values_list("pk", "code_id", "occurrences", "status")
    )
    return state


def test_network_has_the_promised_shape(network):
    summary, plan = network
    assert md.LegalEntity.objects.count() == 2
    assert md.Facility.objects.filter(kind="hospital").count() == 3
    assert md.Facility.objects.filter(kind="clinic").count() == 5
    assert set(
        md.Facility.objects.filter(kind__in=["hospital", "clinic"]).values_list(
            "legal_entity__code", flat=True
        )
    ) == {"LE-NBH", "LE-LMG"}
    assert md.Supplier.objects.count() == 60
    assert md.Item.objects.count() == 3000
    implants = md.Item.objects.filter(implant=True)
    assert implants.count() == 300
    assert not implants.filter(lot_tracked=False).exists()
    assert implants.filter(serial_tracked=True).count() > 150
    assert md.ChargeCode.objects.count() == 1500
    for model in (md.Department, md.CostCenter, md.GLAccount, md.ServiceLine):
        assert model.objects.count() >= 10, model.__name__
    assert md.FundingSource.objects.count() == 5
    assert md.SupplierSite.objects.count() >= 120
    assert set(md.UnitOfMeasure.objects.values_list("code", flat=True)) >= {"EA", "BX", "CS"}
    assert md.UomConversion.objects.filter(item__isnull=False).count() > 2000

    approved = md.CrossReference.objects.filter(status="approved")
    per_system = Counter(approved.values_list("external_system__code", flat=True))
    assert per_system == Counter(spec.system for spec in plan.xrefs)
    assert set(per_system) == {ERP, BILLING, PROCUREMENT, X12}
    assert per_system[X12] == len(EDI_PARTNERS)
    assert per_system[ERP] > 3000
    assert per_system[PROCUREMENT] > 3000
    assert per_system[BILLING] > 1500
    assert set(approved.values_list("created_by__username", "decided_by__username")) == {
        ("erin", "sam")
    }
    drafts = md.CrossReference.objects.filter(status="draft")
    assert list(drafts.values_list("external_code", flat=True)) == [
        plan.gaps.proposed_procurement_supplier
    ]
    rules = md.ToleranceRule.objects.filter(status="approved")
    assert rules.count() == 8
    assert rules.filter(supplier=None, item=None, facility=None).count() == 4
    assert rules.exclude(supplier=None).count() == 2
    assert rules.exclude(item=None).count() == 1
    assert set(rules.values_list("created_by__username", "decided_by__username")) == {
        ("erin", "sam")
    }
    assert summary.counts["xrefs"] == approved.count()
    assert "demo network: 2 legal entities, 3 hospitals, 5 clinics" in summary.line()


def test_items_carry_valid_gtins_and_their_charge_codes(network):
    gtins = md.Item.objects.exclude(gtin="").values_list("gtin", flat=True)
    assert len(gtins) >= 2990
    assert all(len(g) == 14 and gtin14(g[:13]) == g for g in gtins)
    assert gtin14("0001234560001") == "00012345600012"  # the GS1 worked example

    charge_codes = set(md.ChargeCode.objects.values_list("code", flat=True))
    chargeable = md.Item.objects.filter(chargeable=True)
    assert chargeable.count() > 1000
    assert set(chargeable.values_list("charge_code", flat=True)) <= charge_codes
    assert not md.Item.objects.filter(chargeable=False).exclude(charge_code="").exists()
    implant_lines = md.ChargeCode.objects.filter(revenue_code="0278")
    assert implant_lines.count() == 299  # every implant but the planted one
    assert not implant_lines.filter(cpt_hcpcs="").exists()
    assert not md.ChargeCode.objects.filter(price__lte=0).exists()


def test_network_second_run_changes_nothing(network):
    before = _table_state()

    with override_settings(PASSWORD_HASHERS=FAST_HASHER):
        summary = demo_network_build()

    assert summary.created == {}
    assert summary.duplicate_pairs is None
    assert "nothing created" in summary.line()
    assert _table_state() == before


def test_command_prints_a_one_line_summary(network, capsys):
    call_command("demo_network")

    out = capsys.readouterr().out.strip()
    assert out.startswith("demo network: ")
    assert "\n" not in out


def test_network_refuses_outside_demo_and_test(network, settings):
    settings.MODE = "production"
    with pytest.raises(HubError) as refused:
        demo_network_build()
    assert refused.value.code == "DEMO_ONLY"

    settings.MODE, settings.SANDBOX_ENABLED = "demo", False
    with pytest.raises(HubError):
        demo_network_build()


def test_every_mapped_code_resolves_except_the_planted_ones(network):
    _, plan = network
    keys = {
        LookupKey(spec.system, spec.entity_type, spec.external_code): spec.target_code
        for spec in plan.xrefs
    }

    answers = lookup_many(keys, on=TODAY)

    misses = {key.code: answer.miss for key, answer in answers.items() if not answer.ok}
    assert misses == {
        plan.gaps.blocked_procurement_supplier: codes.SUPPLIER_BLOCKED,
        erp_vendor_id(BLOCKED): codes.SUPPLIER_BLOCKED,
        plan.gaps.inactive_erp_cost_center: codes.COST_CENTER_INVALID,
    }
    wrong = [key for key, answer in answers.items() if answer.code != keys[key]]
    assert wrong == []


def test_planted_gaps_produce_coded_misses(network):
    _, plan = network
    gaps = plan.gaps
    supplier = {
        code: LookupKey(PROCUREMENT, "supplier", code)
        for code in (
            *gaps.unknown_procurement_suppliers,
            gaps.proposed_procurement_supplier,
            gaps.blocked_procurement_supplier,
            *gaps.not_enabled_procurement_suppliers,
            "SUP-001",
        )
    }
    item = {
        code: LookupKey(PROCUREMENT, "item", code)
        for code in (*gaps.unknown_procurement_items, gaps.not_chargeable_implant, "ITEM-00001")
    }
    cost_center = LookupKey(ERP, "cost_center", gaps.inactive_erp_cost_center)
    answers = lookup_many([*supplier.values(), *item.values(), cost_center], on=TODAY)

    for code in (*gaps.unknown_procurement_suppliers, gaps.proposed_procurement_supplier):
        assert answers[supplier[code]].miss == codes.SUPPLIER_UNKNOWN, code
    blocked = answers[supplier[gaps.blocked_procurement_supplier]]
    assert blocked.miss == codes.SUPPLIER_BLOCKED
    assert blocked.error().root_cause_key == f"supplier:PROCUREMENT:{blocked.key.code}"

    entity = dict(md.LegalEntity.objects.values_list("code", "id"))
    second = entity[gaps.not_enabled_legal_entity]
    first = next(pk for code, pk in entity.items() if code != gaps.not_enabled_legal_entity)
    for code in (*gaps.not_enabled_procurement_suppliers, "SUP-001"):
        assert answers[supplier[code]].ok
        assert require_enabled(answers[supplier[code]], legal_entity_id=first, on=TODAY).ok
    for code in gaps.not_enabled_procurement_suppliers:
        refused = require_enabled(answers[supplier[code]], legal_entity_id=second, on=TODAY)
        assert refused.miss == codes.SUPPLIER_NOT_ENABLED
    assert require_enabled(answers[supplier["SUP-001"]], legal_entity_id=second, on=TODAY).ok

    for code in gaps.unknown_procurement_items:
        assert answers[item[code]].miss == codes.ITEM_UNKNOWN
    implant = answers[item[gaps.not_chargeable_implant]]
    assert implant.ok
    assert md.Item.objects.get(pk=implant.record_id).implant
    assert require_chargeable(implant).miss == codes.ITEM_NOT_CHARGEABLE
    assert require_chargeable(answers[item["ITEM-00001"]]).ok  # an implant that is chargeable

    assert answers[cost_center].miss == codes.COST_CENTER_INVALID
    assert "inactive" in answers[cost_center].reason

    gap = md.Item.objects.get(code=gaps.item_without_conversion)
    assert gap.vendor_parts.filter(uom__code="BX").exists()  # bought by the box...
    neighbour = md.Item.objects.filter(name__startswith="Specimen container").exclude(pk=gap.pk)[0]
    factors = uom_factors(
        [UomKey(gap.pk, "BX", "EA"), UomKey(neighbour.pk, "BX", "EA"), UomKey(gap.pk, "DZ", "EA")]
    )
    missing = factors[UomKey(gap.pk, "BX", "EA")]
    assert isinstance(missing, HubError)
    assert missing.code == codes.UOM_CONVERSION_MISSING
    assert factors[UomKey(neighbour.pk, "BX", "EA")] > 1
    assert factors[UomKey(gap.pk, "DZ", "EA")] == 12  # the one general conversion


def test_duplicate_scan_found_the_planted_duplicates(network):
    summary, plan = network
    found = BusinessException.objects.filter(code_id=codes.MASTER_POSSIBLE_DUPLICATE)

    pairs = {(e.details["entity_type"], tuple(e.details["codes"])) for e in found}

    assert summary.duplicate_pairs == 4
    assert pairs == {("supplier", pair) for pair in plan.gaps.duplicate_suppliers} | {
        ("item", pair) for pair in plan.gaps.duplicate_items
    }
    reasons = sorted(e.details["reason"] for e in found)
    assert reasons == ["same GTIN", "same name", "same tax id", "same vendor part"]
    assert all(e.status == "open" for e in found)
