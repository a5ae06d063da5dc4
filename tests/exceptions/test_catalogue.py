"""The exception catalogue: seeded by migrate from DESIGN §7, kept in step, never overwritten."""

import io

import pytest
from django.core.management import call_command

from apps.exceptions.catalogue import CODES, TEAMS, codes
from apps.exceptions.choices import (
    ExceptionActionChoices,
    ExceptionCategoryChoices,
    SeverityChoices,
)
from apps.exceptions.models import ExceptionCode, Team
from apps.exceptions.services import exception_catalogue_sync

C = ExceptionCategoryChoices

# Written from DESIGN §7, not from the seed, so a code dropped from the seed is caught.
DESIGN_GROUPS = {
    C.TECHNICAL: (
        {"integration"},
        [
            "PARSE_ERROR",
            "SCHEMA_INVALID",
            "ENVELOPE_REJECTED",
            "HL7_NEGATIVE_ACK",
            "TARGET_UNAVAILABLE",
            "RETRIES_EXHAUSTED",
            "AUTH_FAILED",
            "THROTTLED",
            "ACK_MISSING",
            "DUPLICATE_MESSAGE",
            "DUPLICATE_DIFFERENT_CONTENT",
        ],
    ),
    C.MASTER_DATA: (
        {"master_data"},
        [
            "SUPPLIER_UNKNOWN",
            "SUPPLIER_BLOCKED",
            "SUPPLIER_NOT_ENABLED",
            "ITEM_UNKNOWN",
            "ITEM_NOT_CHARGEABLE",
            "UOM_CONVERSION_MISSING",
            "COST_CENTER_INVALID",
            "GL_ACCOUNT_INVALID",
            "FACILITY_UNKNOWN",
            "MASTER_POSSIBLE_DUPLICATE",
            "AMBIGUOUS_MATCH",
            "VALUE_MAPPING_MISSING",
        ],
    ),
    C.PROCURE_TO_PAY: (
        {"accounts_payable", "supply_chain"},
        [
            "PO_NOT_FOUND",
            "GR_MISSING",
            "PRICE_VARIANCE",
            "QTY_VARIANCE",
            "AMOUNT_VARIANCE",
            "TAX_VARIANCE",
            "TERMS_MISMATCH",
            "INVOICE_UNBALANCED",
            "DUPLICATE_INVOICE",
            "PO_ACK_CHANGED",
            "PO_ACK_REJECTED",
            "ASN_RECEIPT_MISMATCH",
            "OVER_RECEIPT",
            "BILL_ONLY_PO_MISSING",
            "BUDGET_EXCEEDED",
        ],
    ),
    C.USAGE_TO_CHARGE: (
        {"revenue_integrity"},
        [
            "USAGE_WITHOUT_CHARGE",
            "CHARGE_WITHOUT_USAGE",
            "ISSUE_CHARGE_QTY_MISMATCH",
            "DUPLICATE_CHARGE",
            "ZERO_AMOUNT_CHARGE",
            "LATE_CHARGE",
            "IMPLANT_UDI_INCOMPLETE",
            "LOT_EXPIRED_OR_RECALLED",
            "CREDIT_WITHOUT_ORIGINAL",
        ],
    ),
    C.CLAIMS: (
        {"billing"},
        ["REMIT_UNMATCHED", "REMIT_DENIAL", "PAYMENT_VARIANCE", "REMIT_REVERSAL", "CLAIM_NOT_PAID"],
    ),
    C.FINANCE: (
        {"finance"},
        ["POSTING_REJECTED", "PERIOD_CLOSED", "DIMENSION_MISSING", "JOURNAL_UNBALANCED"],
    ),
}

WORK_ACTIONS = {
    ExceptionActionChoices.ASSIGN,
    ExceptionActionChoices.COMMENT,
    ExceptionActionChoices.RESOLVE,
    ExceptionActionChoices.IGNORE,
}


@pytest.mark.parametrize("category", list(DESIGN_GROUPS))
def test_catalogue_after_migrate_holds_every_design_group(db, category):
    teams, names = DESIGN_GROUPS[category]
    rows = {c.code: c for c in ExceptionCode.objects.select_related("owning_team")}

    assert set(names) <= set(rows), set(names) - set(rows)
    for name in names:
        assert rows[name].category == category, name
        assert rows[name].owning_team.slug in teams, name


def test_catalogue_after_migrate_holds_every_seed_code_as_seeded(db):
    rows = {c.code: c for c in ExceptionCode.objects.select_related("owning_team")}

    assert len(CODES) == len({seed.code for seed in CODES}), "a seed code is listed twice"
    for seed in CODES:
        row = rows[seed.code]
        assert row.category == seed.category, seed.code
        assert row.owning_team.slug == seed.team, seed.code
        assert row.title == seed.title, seed.code
        assert row.meaning == seed.meaning, seed.code
        assert row.severity == seed.severity, seed.code
        assert row.sla_minutes == seed.sla_minutes, seed.code
        assert row.allowed_actions == list(seed.actions), seed.code


def test_catalogue_after_migrate_holds_every_team_with_its_list(db):
    teams = {t.slug: t for t in Team.objects.all()}

    for seed in TEAMS:
        assert teams[seed.slug].name == seed.name
        assert teams[seed.slug].email == seed.email


def test_catalogue_codes_are_workable_and_well_formed(db):
    valid_actions = set(ExceptionActionChoices.values)

    for code in ExceptionCode.objects.all():
        assert set(code.allowed_actions) >= WORK_ACTIONS, code.code
        assert set(code.allowed_actions) <= valid_actions, code.code
        assert code.severity in SeverityChoices.values, code.code
        assert code.sla_minutes > 0, code.code
        assert code.title, code.code
        assert code.meaning, code.code


def test_catalogue_urgent_technical_codes_are_critical_with_one_hour_sla(db):
    for name in ("RETRIES_EXHAUSTED", "AUTH_FAILED", "POISON_MESSAGE"):
        code = ExceptionCode.objects.get(code=name)
        assert code.severity == SeverityChoices.CRITICAL
        assert code.sla_minutes == 60
    assert (
        ExceptionActionChoices.REPLAY
        in ExceptionCode.objects.get(code="PARSE_ERROR").allowed_actions
    )
    assert (
        ExceptionActionChoices.FIX_MAPPING
        in ExceptionCode.objects.get(code="VALUE_MAPPING_MISSING").allowed_actions
    )
    assert (
        ExceptionActionChoices.ACCEPT_VARIANCE
        in ExceptionCode.objects.get(code="PRICE_VARIANCE").allowed_actions
    )


def test_catalogue_sync_is_idempotent(db):
    before = list(ExceptionCode.objects.order_by("code").values())

    assert exception_catalogue_sync() == (0, 0)
    assert exception_catalogue_sync() == (0, 0)

    assert list(ExceptionCode.objects.order_by("code").values()) == before
    assert ExceptionCode.objects.count() == len(CODES)
    assert Team.objects.count() == len(TEAMS)


def test_catalogue_sync_keeps_an_administrators_edit(db):
    ExceptionCode.objects.filter(code="PRICE_VARIANCE").update(
        title="Price off by more than 2 %",
        sla_minutes=30,
        severity=SeverityChoices.CRITICAL,
        allowed_actions=["comment", "resolve"],
    )
    Team.objects.filter(slug="accounts_payable").update(email="ap-oncall@example.org")

    exception_catalogue_sync()

    code = ExceptionCode.objects.get(code="PRICE_VARIANCE")
    assert code.title == "Price off by more than 2 %"
    assert code.sla_minutes == 30
    assert code.severity == SeverityChoices.CRITICAL
    assert code.allowed_actions == ["comment", "resolve"]
    assert Team.objects.get(slug="accounts_payable").email == "ap-oncall@example.org"


def test_catalogue_sync_restores_a_missing_code_and_team(db):
    ExceptionCode.objects.filter(code="PERIOD_CLOSED").delete()

    assert exception_catalogue_sync() == (0, 1)

    restored = ExceptionCode.objects.get(code="PERIOD_CLOSED")
    assert restored.owning_team.slug == "finance"
    assert restored.sla_minutes == 24 * 60


def test_catalogue_sync_command_reports_what_it_created(db):
    ExceptionCode.objects.filter(code__in=["PERIOD_CLOSED", "LATE_CHARGE"]).delete()
    out = io.StringIO()

    call_command("sync_exception_catalogue", stdout=out)

    assert "0 team(s) and 2 code(s) created." in out.getvalue()
    assert ExceptionCode.objects.filter(code__in=["PERIOD_CLOSED", "LATE_CHARGE"]).count() == 2


def test_catalogue_codes_constant_returns_known_codes():
    assert codes.PARSE_ERROR == "PARSE_ERROR"
    assert codes.DUPLICATE_DIFFERENT_CONTENT == "DUPLICATE_DIFFERENT_CONTENT"


def test_catalogue_codes_constant_rejects_a_typo():
    with pytest.raises(AttributeError, match="NOT_A_CODE"):
        codes.NOT_A_CODE  # noqa: B018
