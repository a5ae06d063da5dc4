"""Maker-checker for cross-references and tolerance rules: who may, what changes, what is kept."""

from decimal import Decimal

import pytest
from auditlog.context import set_actor
from auditlog.models import LogEntry
from django.db import IntegrityError, transaction

from apps.core.errors import HubError, PermissionDenied
from apps.masterdata.choices import ApprovalStatusChoices as Approval
from apps.masterdata.models import CrossReference, ToleranceRule
from apps.masterdata.services import (
    crossref_approve,
    crossref_propose,
    crossref_reject,
    crossref_retire,
    tolerance_approve,
    tolerance_propose,
    tolerance_reject,
    tolerance_retire,
    tolerance_rules_for,
)
from tests.masterdata.builders import (
    D,
    approved_xref,
    audit_entries,
    facility,
    item,
    look,
    supplier,
)

pytestmark = pytest.mark.django_db

NOT_STEWARDS = ["viewer", "engineer", "outsider"]


@pytest.fixture
def acme(erp):
    return supplier("ACME", "Acme")


def _propose(actor, target, code="V100", **fields):
    fields.setdefault("effective_from", D(2026, 1, 1))
    return crossref_propose(
        actor=actor,
        system=fields.pop("system", "ERP"),
        entity_type=fields.pop("entity_type", "supplier"),
        external_code=code,
        target=target,
        **fields,
    )


def _hub_error(call) -> HubError:
    with pytest.raises(HubError) as raised:
        call()
    return raised.value


# --- Cross-references ----------------------------------------------------------------------------


def test_a_proposal_is_an_audited_draft_that_resolves_nothing(acme, steward):
    draft = _propose(steward, acme, code="  V100 ", note="New supplier number")

    draft.refresh_from_db()
    assert (draft.status, draft.external_code, draft.target, draft.created_by) == (
        Approval.DRAFT,
        "V100",
        acme,
        steward,
    )
    assert (draft.decided_by, draft.decided_at) == (None, None)
    created = audit_entries(draft).get()
    assert (created.action, created.actor) == (LogEntry.Action.CREATE, steward)
    assert look("V100", D(2026, 2, 1)).miss == "SUPPLIER_UNKNOWN"


def test_the_author_cannot_approve_their_own_proposal(acme, steward):
    draft = _propose(steward, acme)

    error = _hub_error(lambda: crossref_approve(xref_id=draft.pk, actor=steward))

    assert error.code == "SELF_APPROVAL"
    draft.refresh_from_db()
    assert (draft.status, draft.decided_by, draft.decided_at) == (Approval.DRAFT, None, None)
    assert not audit_entries(draft, LogEntry.Action.UPDATE).exists()
    assert look("V100", D(2026, 2, 1)).miss == "SUPPLIER_UNKNOWN"


def test_another_steward_approves_and_the_mapping_resolves(acme, steward, checker):
    draft = _propose(steward, acme)

    approved = crossref_approve(xref_id=draft.pk, actor=checker, reason="Checked the contract")

    assert approved.record.pk == draft.pk
    assert approved.resolvable_exception_ids == []
    draft.refresh_from_db()
    assert (draft.status, draft.decided_by, draft.decision_reason) == (
        Approval.APPROVED,
        checker,
        "Checked the contract",
    )
    assert draft.decided_at is not None
    entry = audit_entries(draft, LogEntry.Action.UPDATE).get()
    assert entry.actor == checker
    assert entry.changes_dict["status"] == ["draft", "approved"]
    assert look("V100", D(2026, 2, 1)).record_id == acme.pk


@pytest.mark.parametrize("persona", NOT_STEWARDS)
def test_only_stewards_propose_approve_reject_or_retire(request, persona, acme, steward, checker):
    someone = request.getfixturevalue(persona)
    draft = _propose(steward, acme)
    approved = approved_xref(steward, checker, code="V200", target=acme)

    with pytest.raises(PermissionDenied):
        _propose(someone, acme, code="V300")
    with pytest.raises(PermissionDenied):
        crossref_approve(xref_id=draft.pk, actor=someone)
    with pytest.raises(PermissionDenied):
        crossref_reject(xref_id=draft.pk, actor=someone, reason="No")
    with pytest.raises(PermissionDenied):
        crossref_retire(xref_id=approved.pk, actor=someone, reason="No")

    assert not CrossReference.objects.filter(external_code="V300").exists()
    draft.refresh_from_db()
    approved.refresh_from_db()
    assert (draft.status, draft.decided_by) == (Approval.DRAFT, None)
    assert (approved.status, approved.effective_to) == (Approval.APPROVED, None)


def test_nobody_approves_without_being_signed_in(acme, steward):
    draft = _propose(steward, acme)
    with pytest.raises(PermissionDenied):
        crossref_approve(xref_id=draft.pk, actor=None)
    with pytest.raises(PermissionDenied):
        _propose(None, acme, code="V300")


def test_only_drafts_are_approved_or_rejected(acme, steward, checker):
    approved = approved_xref(steward, checker, code="V100", target=acme)
    rejected = _propose(steward, acme, code="V200")
    crossref_reject(xref_id=rejected.pk, actor=checker, reason="Wrong supplier")

    for xref in (approved, rejected):
        assert _hub_error(lambda x=xref: crossref_approve(xref_id=x.pk, actor=checker)).code == (
            "MAPPING_NOT_DRAFT"
        )
        error = _hub_error(lambda x=xref: crossref_reject(xref_id=x.pk, actor=checker, reason="x"))
        assert error.code == "MAPPING_NOT_DRAFT"
    approved.refresh_from_db()
    rejected.refresh_from_db()
    assert (approved.status, rejected.status) == (Approval.APPROVED, Approval.REJECTED)


def test_a_rejection_needs_a_reason_and_is_recorded(acme, steward, checker):
    draft = _propose(steward, acme)

    assert _hub_error(
        lambda: crossref_reject(xref_id=draft.pk, actor=checker, reason=" ")
    ).code == ("REASON_REQUIRED")
    draft.refresh_from_db()
    assert draft.status == Approval.DRAFT

    crossref_reject(xref_id=draft.pk, actor=checker, reason="  Wrong supplier ")

    draft.refresh_from_db()
    assert (draft.status, draft.decided_by, draft.decision_reason) == (
        Approval.REJECTED,
        checker,
        "Wrong supplier",
    )
    assert audit_entries(draft, LogEntry.Action.UPDATE).get().actor == checker
    assert look("V100", D(2026, 2, 1)).miss == "SUPPLIER_UNKNOWN"


def test_the_author_may_withdraw_their_own_proposal(acme, steward):
    draft = _propose(steward, acme)

    crossref_reject(xref_id=draft.pk, actor=steward, reason="Typo in the code")

    draft.refresh_from_db()
    assert (draft.status, draft.decided_by) == (Approval.REJECTED, steward)


def test_an_approval_that_would_overlap_fails_and_leaves_the_draft_a_draft(acme, steward, checker):
    globex = supplier("GLOBEX", "Globex")
    current = approved_xref(steward, checker, code="V100", target=acme)  # from 2000-01-01, open
    overlapping = _propose(steward, globex, effective_from=D(2026, 3, 1))

    error = _hub_error(lambda: crossref_approve(xref_id=overlapping.pk, actor=checker))

    assert error.code == "MAPPING_OVERLAP"
    overlapping.refresh_from_db()
    current.refresh_from_db()
    assert (overlapping.status, overlapping.decided_by) == (Approval.DRAFT, None)
    assert (current.status, current.effective_to) == (Approval.APPROVED, None)
    assert look("V100", D(2026, 4, 1)).record_id == acme.pk


def test_the_database_itself_refuses_two_approved_mappings_on_one_day(acme, steward, checker):
    approved_xref(
        steward,
        checker,
        code="V100",
        target=acme,
        effective_from=D(2026, 1, 1),
        effective_to=D(2026, 6, 30),
    )
    # Adjacent windows, other systems and other entity types do not conflict.
    approved_xref(steward, checker, code="V100", target=acme, effective_from=D(2026, 7, 1))
    approved_xref(
        steward,
        checker,
        code="V100",
        target=item("V100"),
        entity_type="item",
        effective_from=D(2026, 1, 1),
    )
    draft = _propose(steward, acme, effective_from=D(2026, 6, 30), effective_to=D(2026, 6, 30))

    with pytest.raises(IntegrityError), transaction.atomic():
        CrossReference.objects.filter(pk=draft.pk).update(status=Approval.APPROVED)

    assert CrossReference.objects.filter(status=Approval.APPROVED).count() == 3


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"entity_type": "vendor"}, "ENTITY_TYPE_UNKNOWN"),
        ({"entity_type": "item"}, "MAPPING_TARGET_MISMATCH"),
        ({"system": "NOPE"}, "EXTERNAL_SYSTEM_UNKNOWN"),
        ({"code": "   "}, "MAPPING_CODE_EMPTY"),
    ],
)
def test_a_proposal_is_checked(acme, steward, change, code):
    assert _hub_error(lambda: _propose(steward, acme, **change)).code == code
    assert not CrossReference.objects.exists()


def test_a_change_must_replace_an_approved_mapping_of_the_same_code(acme, steward, checker):
    draft = _propose(steward, acme)
    other_code = approved_xref(steward, checker, code="V999", target=acme)

    for supersedes in (draft, other_code):
        error = _hub_error(
            lambda s=supersedes: _propose(steward, acme, supersedes=s, effective_from=D(2026, 7, 1))
        )
        assert error.code == "MAPPING_SUPERSEDES_INVALID"
    assert CrossReference.objects.count() == 2


def test_retiring_needs_an_approved_mapping_and_a_reason(acme, steward, checker):
    draft = _propose(steward, acme)
    approved = approved_xref(steward, checker, code="V200", target=acme)

    assert _hub_error(
        lambda: crossref_retire(xref_id=draft.pk, actor=checker, reason="x")
    ).code == ("MAPPING_NOT_APPROVED")
    assert _hub_error(
        lambda: crossref_retire(xref_id=approved.pk, actor=checker, reason="")
    ).code == ("REASON_REQUIRED")
    approved.refresh_from_db()
    assert approved.effective_to is None


def test_a_stewards_change_is_attributed_after_earlier_work_by_them_in_this_thread(acme, steward):
    # What a Celery task or an earlier request by erin leaves behind in this worker thread.
    with set_actor(steward):
        pass

    draft = _propose(steward, acme)

    assert audit_entries(draft).get().actor == steward


# --- Tolerance rules -----------------------------------------------------------------------------


def _rule(name="Default price", *, percent="2", measure="price", level="line", **fields):
    fields.setdefault("effective_from", D(2026, 1, 1))
    return ToleranceRule(
        name=name, level=level, measure=measure, percent=Decimal(percent), **fields
    )


def _approved_rule(maker, checker, **fields):
    draft = tolerance_propose(actor=maker, rule=_rule(**fields))
    return tolerance_approve(rule_id=draft.pk, actor=checker)


def test_tolerance_rules_follow_maker_checker(steward, checker):
    draft = tolerance_propose(actor=steward, rule=_rule())
    assert (draft.status, draft.created_by) == (Approval.DRAFT, steward)
    assert (
        tolerance_rules_for(supplier_id=None, item_id=None, facility_id=None, on=D(2026, 2, 1))
        == {}
    )

    assert _hub_error(lambda: tolerance_approve(rule_id=draft.pk, actor=steward)).code == (
        "SELF_APPROVAL"
    )
    draft.refresh_from_db()
    assert draft.status == Approval.DRAFT

    tolerance_approve(rule_id=draft.pk, actor=checker)

    draft.refresh_from_db()
    assert (draft.status, draft.decided_by) == (Approval.APPROVED, checker)
    assert audit_entries(draft, LogEntry.Action.UPDATE).get().actor == checker
    assert tolerance_rules_for(
        supplier_id=None, item_id=None, facility_id=None, on=D(2026, 2, 1)
    ) == {("line", "price"): draft}
    assert _hub_error(lambda: tolerance_approve(rule_id=draft.pk, actor=steward)).code == (
        "MAPPING_NOT_DRAFT"
    )


@pytest.mark.parametrize("persona", NOT_STEWARDS)
def test_only_stewards_govern_tolerance_rules(request, persona, steward, checker):
    someone = request.getfixturevalue(persona)
    draft = tolerance_propose(actor=steward, rule=_rule())
    approved = _approved_rule(steward, checker, name="Quantity", measure="quantity")

    with pytest.raises(PermissionDenied):
        tolerance_propose(actor=someone, rule=_rule(name="Mine"))
    with pytest.raises(PermissionDenied):
        tolerance_approve(rule_id=draft.pk, actor=someone)
    with pytest.raises(PermissionDenied):
        tolerance_reject(rule_id=draft.pk, actor=someone, reason="No")
    with pytest.raises(PermissionDenied):
        tolerance_retire(rule_id=approved.pk, actor=someone, reason="No")

    assert not ToleranceRule.objects.filter(name="Mine").exists()
    draft.refresh_from_db()
    approved.refresh_from_db()
    assert (draft.status, approved.status, approved.effective_to) == (
        Approval.DRAFT,
        Approval.APPROVED,
        None,
    )


def test_tolerance_rejection_withdrawal_and_retirement(steward, checker):
    refused = tolerance_propose(actor=steward, rule=_rule(name="Too loose", percent="50"))
    withdrawn = tolerance_propose(actor=steward, rule=_rule(name="Typo", percent="0.2"))
    retiring = _approved_rule(steward, checker, name="Old default")

    assert _hub_error(
        lambda: tolerance_reject(rule_id=refused.pk, actor=checker, reason="")
    ).code == ("REASON_REQUIRED")
    tolerance_reject(rule_id=refused.pk, actor=checker, reason="50% is too much")
    tolerance_reject(rule_id=withdrawn.pk, actor=steward, reason="Typo")
    tolerance_retire(rule_id=retiring.pk, actor=checker, reason="Policy", last_day=D(2026, 3, 31))

    refused.refresh_from_db()
    withdrawn.refresh_from_db()
    retiring.refresh_from_db()
    assert (refused.status, refused.decided_by, refused.decision_reason) == (
        Approval.REJECTED,
        checker,
        "50% is too much",
    )
    assert (withdrawn.status, withdrawn.decided_by) == (Approval.REJECTED, steward)
    assert retiring.effective_to == D(2026, 3, 31)
    rules = dict(supplier_id=None, item_id=None, facility_id=None)
    assert tolerance_rules_for(**rules, on=D(2026, 3, 31)) == {("line", "price"): retiring}
    assert tolerance_rules_for(**rules, on=D(2026, 4, 1)) == {}


def test_a_tolerance_change_takes_over_the_day_it_starts(steward, checker):
    old = _approved_rule(steward, checker, percent="2")
    change = tolerance_propose(
        actor=steward, rule=_rule(percent="3", effective_from=D(2026, 7, 1)), supersedes=old
    )

    tolerance_approve(rule_id=change.pk, actor=checker)

    old.refresh_from_db()
    assert (old.status, old.effective_to) == (Approval.APPROVED, D(2026, 6, 30))
    rules = dict(supplier_id=None, item_id=None, facility_id=None)
    assert tolerance_rules_for(**rules, on=D(2026, 6, 30))[("line", "price")] == old
    assert tolerance_rules_for(**rules, on=D(2026, 7, 1))[("line", "price")] == change
    draft = tolerance_propose(actor=steward, rule=_rule(name="Next"))
    assert _hub_error(
        lambda: tolerance_propose(actor=steward, rule=_rule(), supersedes=draft)
    ).code == ("MAPPING_SUPERSEDES_INVALID")


def test_the_most_specific_approved_rule_in_effect_wins(legal_entity, steward, checker):
    acme, globex = supplier("ACME", "Acme"), supplier("GLOBEX", "Globex")
    stent, gauze = item("STENT"), item("GAUZE")
    north, south = facility("NORTH", legal_entity), facility("SOUTH", legal_entity)
    default = _approved_rule(steward, checker, name="Default", percent="1")
    by_facility = _approved_rule(steward, checker, name="North", percent="2", facility=north)
    by_supplier = _approved_rule(steward, checker, name="Acme", percent="3", supplier=acme)
    by_item = _approved_rule(steward, checker, name="Stent", percent="4", item=stent)
    quantity = _approved_rule(steward, checker, name="Qty", measure="quantity", level="header")
    # Neither a draft nor an expired rule counts, however specific.
    tolerance_propose(actor=steward, rule=_rule(name="Draft", percent="9", item=gauze))
    _approved_rule(
        steward, checker, name="Old", percent="8", item=gauze, effective_to=D(2026, 1, 31)
    )
    on = D(2026, 2, 1)

    def price_rule(supplier_id=None, item_id=None, facility_id=None):
        rules = tolerance_rules_for(
            supplier_id=supplier_id, item_id=item_id, facility_id=facility_id, on=on
        )
        assert rules[("header", "quantity")] == quantity
        return rules[("line", "price")]

    assert price_rule(acme.pk, stent.pk, north.pk) == by_item
    assert price_rule(acme.pk, gauze.pk, north.pk) == by_supplier
    assert price_rule(globex.pk, gauze.pk, north.pk) == by_facility
    assert price_rule(globex.pk, gauze.pk, south.pk) == default
    assert price_rule() == default


def test_two_approved_tolerance_rules_of_one_scope_never_overlap(steward, checker):
    _approved_rule(steward, checker, name="B default", percent="2")
    rival = tolerance_propose(actor=steward, rule=_rule(name="A default", percent="5"))

    error = _hub_error(lambda: tolerance_approve(rule_id=rival.pk, actor=checker))

    assert error.code == "MAPPING_OVERLAP"
    rival.refresh_from_db()
    assert rival.status == Approval.DRAFT
