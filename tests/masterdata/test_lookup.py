"""The lookup service: one answer per key, coded misses, merged records, one query per batch."""

from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.contenttypes.models import ContentType

from apps.core.errors import HubError
from apps.masterdata.choices import ApprovalStatusChoices as Approval
from apps.masterdata.lookup import (
    LookupKey,
    Resolved,
    UomKey,
    lookup,
    lookup_many,
    require_chargeable,
    require_enabled,
    uom_factors,
)
from apps.masterdata.models import (
    BEGINNING,
    CrossReference,
    LegalEntity,
    ServiceLine,
    SupplierEnablement,
    UomConversion,
)
from tests.masterdata.builders import (
    D,
    approved_xref,
    cost_center,
    facility,
    gl_account,
    item,
    supplier,
    uom,
)

pytestmark = pytest.mark.django_db

ON = D(2026, 3, 1)


def xkey(entity_type: str, code: str) -> LookupKey:
    return LookupKey("ERP", entity_type, code)


@pytest.fixture
def world(erp, legal_entity, steward, checker):
    """A small master: each record mapped from ERP code 'E-<canonical code>'."""
    other_entity = LegalEntity.objects.create(code="LE2", name="Other hospital group")
    w = SimpleNamespace(
        legal_entity=legal_entity,
        other_entity=other_entity,
        acme=supplier("ACME", "Acme"),
        blocked=supplier("BLOCK", "Blocked Ltd", status="blocked"),
        globex=supplier("GLOBEX", "Globex"),
        stent=item("STENT", chargeable=True),
        gauze=item("GAUZE", chargeable=False),
        cardio=cost_center("CC-CARDIO", legal_entity),
        closed_cc=cost_center("CC-OLD", legal_entity, status="inactive"),
        supplies=gl_account("GL-6000", legal_entity),
        north=facility("NORTH", legal_entity),
        box=uom("BX"),
        surgery=ServiceLine.objects.create(code="SURG", name="Surgery"),
    )
    SupplierEnablement.objects.create(supplier=w.acme, legal_entity=legal_entity)
    SupplierEnablement.objects.create(
        supplier=w.globex, legal_entity=legal_entity, effective_to=D(2026, 1, 31)
    )
    for entity_type, record in [
        ("supplier", w.acme),
        ("supplier", w.blocked),
        ("supplier", w.globex),
        ("item", w.stent),
        ("item", w.gauze),
        ("cost_center", w.cardio),
        ("cost_center", w.closed_cc),
        ("gl_account", w.supplies),
        ("facility", w.north),
        ("uom", w.box),
        ("service_line", w.surgery),
    ]:
        approved_xref(
            steward, checker, code=f"E-{record.code}", target=record, entity_type=entity_type
        )
    return w


def test_a_batch_of_mixed_keys_gets_one_answer_per_key(world):
    expected = {
        xkey("supplier", "E-ACME"): (None, world.acme),
        xkey("supplier", "E-BLOCK"): ("SUPPLIER_BLOCKED", world.blocked),
        xkey("supplier", "E-NOBODY"): ("SUPPLIER_UNKNOWN", None),
        xkey("item", "E-STENT"): (None, world.stent),
        xkey("item", "E-NOTHING"): ("ITEM_UNKNOWN", None),
        xkey("cost_center", "E-CC-CARDIO"): (None, world.cardio),
        xkey("cost_center", "E-CC-OLD"): ("COST_CENTER_INVALID", world.closed_cc),
        xkey("cost_center", "E-CC-NONE"): ("COST_CENTER_INVALID", None),
        xkey("gl_account", "E-GL-6000"): (None, world.supplies),
        xkey("gl_account", "E-GL-9999"): ("GL_ACCOUNT_INVALID", None),
        xkey("facility", "E-NORTH"): (None, world.north),
        xkey("facility", "E-WEST"): ("FACILITY_UNKNOWN", None),
        xkey("uom", "E-BX"): (None, world.box),
        xkey("uom", "E-PALLET"): ("VALUE_MAPPING_MISSING", None),
        xkey("service_line", "E-SURG"): (None, world.surgery),
        xkey("service_line", "E-CARD"): ("VALUE_MAPPING_MISSING", None),
        LookupKey("canonical", "supplier", "GLOBEX"): (None, world.globex),
        LookupKey("canonical", "item", "E-STENT"): ("ITEM_UNKNOWN", None),
        LookupKey("BILLING", "supplier", "E-ACME"): ("SUPPLIER_UNKNOWN", None),  # no such system
        xkey("item", "E-ACME"): ("ITEM_UNKNOWN", None),  # the code is a supplier's, not an item's
    }

    answers = lookup_many(list(expected), on=ON)

    assert list(answers) == list(expected)
    for key, (miss, record) in expected.items():
        answer = answers[key]
        assert isinstance(answer, Resolved)
        assert answer.key == key
        assert (answer.miss, answer.ok) == (miss, miss is None), key
        assert answer.record_id == (record.pk if record else None), key
        assert answer.code == (record.code if record else ""), key
        assert bool(answer.reason) == (miss is not None), key
    assert answers[xkey("supplier", "E-BLOCK")].reason == "Supplier BLOCK is blocked."
    assert answers[xkey("cost_center", "E-CC-CARDIO")].attributes["legal_entity_id"] == (
        world.legal_entity.pk
    )
    assert answers[xkey("facility", "E-NORTH")].attributes["legal_entity_id"] == (
        world.legal_entity.pk
    )


def test_a_miss_becomes_a_coded_error_named_by_its_root_cause(world):
    answer = lookup(xkey("supplier", "ACME-77"), on=ON)

    error = answer.error()

    assert isinstance(error, HubError)
    assert (error.code, error.root_cause_key) == ("SUPPLIER_UNKNOWN", "supplier:ERP:ACME-77")
    assert error.message == answer.reason == "No approved mapping of ERP supplier 'ACME-77'."
    assert not error.transient


def test_only_enabled_suppliers_pass_for_a_legal_entity(world):
    answers = lookup_many(
        [xkey("supplier", "E-ACME"), xkey("supplier", "E-GLOBEX"), xkey("supplier", "E-NOBODY")],
        on=ON,
    )
    acme, globex, nobody = answers.values()

    def enabled(answer, entity=world.legal_entity, on=ON):
        return require_enabled(answer, legal_entity_id=entity.pk, on=on)

    assert enabled(acme) is acme
    assert enabled(acme, world.other_entity).miss == "SUPPLIER_NOT_ENABLED"
    assert enabled(globex, on=D(2026, 1, 31)).ok  # enabled through January only
    not_enabled = enabled(globex)
    assert (not_enabled.miss, not_enabled.record_id, not_enabled.code) == (
        "SUPPLIER_NOT_ENABLED",
        world.globex.pk,
        "GLOBEX",
    )
    assert not_enabled.error().root_cause_key == "supplier:ERP:E-GLOBEX"
    assert enabled(nobody) is nobody  # a miss stays the miss it was


def test_only_chargeable_items_pass_require_chargeable(world):
    stent = lookup(xkey("item", "E-STENT"), on=ON)
    gauze = lookup(xkey("item", "E-GAUZE"), on=ON)
    unknown = lookup(xkey("item", "E-NOTHING"), on=ON)

    assert require_chargeable(stent) is stent
    refused = require_chargeable(gauze)
    assert (refused.miss, refused.record_id, refused.reason) == (
        "ITEM_NOT_CHARGEABLE",
        world.gauze.pk,
        "Item GAUZE is not chargeable.",
    )
    assert require_chargeable(unknown).miss == "ITEM_UNKNOWN"


def test_unit_of_measure_factors(db):
    each, box, case = uom("EA"), uom("BX"), uom("CS")
    stent, gauze = item("STENT"), item("GAUZE")
    UomConversion.objects.create(from_uom=box, to_uom=each, factor=Decimal(10))
    UomConversion.objects.create(item=stent, from_uom=box, to_uom=each, factor=Decimal(12))
    UomConversion.objects.create(from_uom=case, to_uom=box, factor=Decimal(4))

    keys = {
        "stent box": UomKey(stent.pk, "BX", "EA"),
        "gauze box": UomKey(gauze.pk, "BX", "EA"),
        "gauze back": UomKey(gauze.pk, "EA", "BX"),
        "stent back": UomKey(stent.pk, "EA", "BX"),
        "same": UomKey(stent.pk, "CS", "CS"),
        "case": UomKey(gauze.pk, "CS", "BX"),
        "no chain": UomKey(stent.pk, "CS", "EA"),
    }
    factors = uom_factors([*keys.values(), keys["same"]])

    assert len(factors) == len(keys)
    assert factors[keys["stent box"]] == 12  # the item's own conversion beats the general one
    assert factors[keys["gauze box"]] == 10
    assert factors[keys["gauze back"]] == Decimal("0.1")
    assert factors[keys["stent back"]] == Decimal(1) / Decimal(12)
    assert factors[keys["same"]] == 1
    assert factors[keys["case"]] == 4
    missing = factors[keys["no chain"]]
    assert isinstance(missing, HubError)
    assert (missing.code, missing.root_cause_key) == (
        "UOM_CONVERSION_MISSING",
        f"uom:{stent.pk}:CS:EA",
    )
    assert uom_factors([]) == {}


def test_lookups_of_a_merged_record_land_on_the_survivor(world, steward, checker):
    old_acme = supplier("ACME-OLD", "Acme old", status="merged", merged_into=world.acme)
    approved_xref(steward, checker, code="E-ACME-OLD", target=old_acme)
    supplier("BLOCK-OLD", "Blocked old", status="merged", merged_into=world.blocked)

    answers = lookup_many(
        [
            xkey("supplier", "E-ACME-OLD"),
            LookupKey("canonical", "supplier", "ACME-OLD"),
            LookupKey("canonical", "supplier", "BLOCK-OLD"),
        ],
        on=ON,
    )
    by_mapping, by_code, blocked = answers.values()

    assert (by_mapping.ok, by_mapping.record_id, by_mapping.code) == (True, world.acme.pk, "ACME")
    assert (by_code.ok, by_code.record_id, by_code.code) == (True, world.acme.pk, "ACME")
    assert (blocked.miss, blocked.record_id) == ("SUPPLIER_BLOCKED", world.blocked.pk)


def test_a_merged_item_answers_with_the_survivors_attributes(world):
    item("GAUZE-OLD", chargeable=False, status="merged", merged_into=world.stent)

    answer = require_chargeable(lookup(LookupKey("canonical", "item", "GAUZE-OLD"), on=ON))

    assert (answer.ok, answer.record_id) == (True, world.stent.pk)


def test_a_merged_record_misses_when_its_survivor_is_no_longer_in_use(world):
    ended = supplier("ENDED", "Ended Inc", effective_to=D(2025, 12, 31))
    supplier("ENDED-OLD", "Ended old", status="merged", merged_into=ended)

    answer = lookup(LookupKey("canonical", "supplier", "ENDED-OLD"), on=ON)

    assert (answer.miss, answer.record_id) == ("SUPPLIER_UNKNOWN", ended.pk)


def test_repeated_keys_in_a_batch_are_answered_once(world, django_assert_num_queries):
    acme, nobody = xkey("supplier", "E-ACME"), xkey("supplier", "E-NOBODY")

    with django_assert_num_queries(1) as queries:
        answers = lookup_many([acme, nobody, acme, xkey("supplier", "E-ACME"), nobody], on=ON)

    assert list(answers) == [acme, nobody]
    assert answers[acme].record_id == world.acme.pk
    assert answers[nobody].miss == "SUPPLIER_UNKNOWN"
    # Each distinct key is sent once.
    assert "'{E-ACME,E-NOBODY}'::varchar[]" in queries.captured_queries[0]["sql"]


def test_ten_thousand_keys_cost_one_query(erp, steward, django_assert_num_queries):
    suppliers = [supplier(f"S{n:05}", f"Supplier {n}") for n in range(100)]
    content_type = ContentType.objects.get_for_model(suppliers[0])
    CrossReference.objects.bulk_create(
        CrossReference(
            external_system=erp,
            entity_type="supplier",
            external_code=f"E{record.code}",
            content_type=content_type,
            object_id=record.pk,
            effective_from=BEGINNING,
            status=Approval.APPROVED,
            created_by=steward,
        )
        for record in suppliers
    )
    mapped = [xkey("supplier", "E" + record.code) for record in suppliers]
    canonical = [LookupKey("canonical", "supplier", record.code) for record in suppliers]
    unknown = [xkey("supplier", f"UNKNOWN-{n}") for n in range(10_000 - 200)]
    keys = mapped + canonical + unknown

    with django_assert_num_queries(1):
        answers = lookup_many(keys, on=ON)

    assert len(answers) == 10_000
    hits = [answers[key].record_id for key in mapped + canonical]
    assert hits == [record.pk for record in suppliers] * 2
    assert {answers[key].miss for key in unknown} == {"SUPPLIER_UNKNOWN"}
    # Asked again in this process (same master-data generation), the answers are cached.
    with django_assert_num_queries(0):
        assert lookup_many(keys, on=ON) == answers


def test_an_unknown_entity_type_is_refused():
    with pytest.raises(ValueError, match="vendor"):
        LookupKey("ERP", "vendor", "V1")
