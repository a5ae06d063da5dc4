"""SLA policies: which one applies, and the due time it gives newly opened exceptions."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps as django_apps
from django.db import IntegrityError

from apps.alerts import seed
from apps.alerts.models import BusinessCalendar, SlaPolicy
from apps.alerts.services import sla_book, sla_due_at, sla_moments
from apps.exceptions.models import BusinessException, ExceptionCode
from apps.exceptions.services import ExceptionSpec, exceptions_open
from tests.alerts.conftest import open_exception, team

NEW_YORK = ZoneInfo("America/New_York")


def _chosen(code: str, team_slug: str | None = None) -> SlaPolicy | None:
    exception_code = ExceptionCode.objects.get(pk=code)
    owner = team(team_slug).pk if team_slug else exception_code.owning_team_id
    return sla_book().policy_for(code=code, category=exception_code.category, team_id=owner)


def test_policy_most_specific_wins_code_then_category_then_default(make_policy):
    default = make_policy(name="default")
    category = make_policy(name="p2p", category="procure_to_pay")
    code = make_policy(name="price", code_id="PRICE_VARIANCE")

    assert _chosen("PRICE_VARIANCE") == code
    assert _chosen("QTY_VARIANCE") == category
    assert _chosen("PARSE_ERROR") == default


def test_policy_for_a_team_beats_one_for_any_team_at_the_same_level_only(make_policy):
    p2p = make_policy(name="p2p", category="procure_to_pay")
    supply = make_policy(name="p2p supply", category="procure_to_pay", team=team("supply_chain"))
    make_policy(name="default for AP", team=team("accounts_payable"))
    price = make_policy(name="price", code_id="PRICE_VARIANCE")

    assert _chosen("OVER_RECEIPT") == supply  # supply chain's code
    assert _chosen("QTY_VARIANCE") == p2p  # accounts payable's: the team policy is a default
    assert _chosen("PRICE_VARIANCE", "supply_chain") == price  # a code beats a team's category
    assert _chosen("PARSE_ERROR") is None  # no default for integration's team


def test_policy_inactive_ones_do_not_count(make_policy):
    make_policy(name="old", category="procure_to_pay", active=False)

    assert _chosen("PRICE_VARIANCE") is None


def test_policy_one_active_per_scope_even_without_code_or_team(make_policy):
    make_policy(name="default one")

    with pytest.raises(IntegrityError):
        make_policy(name="default two")


def test_due_at_without_policy_is_the_codes_minutes_of_elapsed_time(no_policies):
    code = ExceptionCode.objects.get(pk="PRICE_VARIANCE")
    friday = datetime(2025, 6, 13, 16, 30, tzinfo=NEW_YORK)

    assert sla_due_at(code=code, opened_at=friday) == friday + timedelta(minutes=code.sla_minutes)
    assert sla_due_at(code="PRICE_VARIANCE", opened_at=friday) == friday + timedelta(
        minutes=code.sla_minutes
    )


def test_due_at_follows_the_policy_calendar(make_policy, office_hours):
    make_policy(category="procure_to_pay", calendar=office_hours, resolve_minutes=60)
    make_policy(category="technical")  # 24/7, the code's own minutes
    friday = datetime(2025, 6, 13, 16, 30, tzinfo=NEW_YORK)

    assert sla_due_at(code="PRICE_VARIANCE", opened_at=friday) == datetime(
        2025, 6, 16, 8, 30, tzinfo=NEW_YORK
    )
    assert sla_due_at(code="PARSE_ERROR", opened_at=friday) == friday + timedelta(hours=4)


def test_due_at_empty_resolve_minutes_counts_the_codes_minutes_on_the_calendar(
    make_policy, office_hours
):
    make_policy(category="procure_to_pay", calendar=office_hours)
    ExceptionCode.objects.filter(pk="PRICE_VARIANCE").update(sla_minutes=90)

    due = sla_due_at(
        code="PRICE_VARIANCE", opened_at=datetime(2025, 6, 13, 16, 30, tzinfo=NEW_YORK)
    )

    assert due == datetime(2025, 6, 16, 9, 0, tzinfo=NEW_YORK)


def test_due_at_of_newly_opened_exceptions_follows_the_policy(make_policy, office_hours):
    make_policy(category="procure_to_pay", calendar=office_hours, resolve_minutes=2 * 9 * 60)
    make_policy(code_id="OVER_RECEIPT", resolve_minutes=45)  # 24/7

    price = open_exception("PRICE_VARIANCE")
    over = open_exception("OVER_RECEIPT")
    parse = open_exception("PARSE_ERROR")  # no policy: the catalogue's minutes

    assert price.due_at == sla_due_at(code="PRICE_VARIANCE", opened_at=price.opened_at)
    # 18 office hours never fit one working day: at least one closed night lies between.
    assert price.due_at - price.opened_at >= timedelta(hours=18 + 15)
    assert over.due_at - over.opened_at == timedelta(minutes=45)
    assert parse.due_at - parse.opened_at == timedelta(minutes=parse.code.sla_minutes)


def test_due_at_a_batch_of_several_codes_gets_each_its_own(make_policy):
    make_policy(code_id="PRICE_VARIANCE", resolve_minutes=10)
    make_policy(code_id="QTY_VARIANCE", resolve_minutes=20)

    ids = exceptions_open(
        [
            ExceptionSpec(code="PRICE_VARIANCE", summary="a", root_cause_key="batch:a"),
            ExceptionSpec(code="QTY_VARIANCE", summary="b", root_cause_key="batch:b"),
        ]
    )

    spans = {
        e.code_id: e.due_at - e.opened_at for e in BusinessException.objects.filter(pk__in=ids)
    }
    assert spans == {"PRICE_VARIANCE": timedelta(minutes=10), "QTY_VARIANCE": timedelta(minutes=20)}


def test_moments_at_risk_is_a_share_of_business_time_not_of_the_wall_clock(
    make_policy, office_hours
):
    make_policy(
        category="procure_to_pay",
        calendar=office_hours,
        at_risk_percent=50,
        escalate_after_minutes=60,
        escalation_email="ap-lead@example.org",
    )
    friday = datetime(2025, 6, 13, 15, 0, tzinfo=NEW_YORK)
    due = datetime(2025, 6, 16, 11, 0, tzinfo=NEW_YORK)  # 2 h Friday + 3 h Monday = 5 h

    moments = sla_moments(
        book=sla_book(),
        code="PRICE_VARIANCE",
        category="procure_to_pay",
        team_id=team("accounts_payable").pk,
        opened_at=friday,
        due_at=due,
    )

    assert moments.at_risk_at == datetime(2025, 6, 16, 8, 30, tzinfo=NEW_YORK)  # not Sunday
    assert moments.escalate_at == datetime(2025, 6, 16, 12, 0, tzinfo=NEW_YORK)


def test_moments_without_escalation_address_never_escalate(make_policy):
    make_policy(escalate_after_minutes=60)  # no address: nobody to escalate to

    moments = sla_moments(
        book=sla_book(),
        code="PRICE_VARIANCE",
        category="procure_to_pay",
        team_id=team("accounts_payable").pk,
        opened_at=datetime(2025, 6, 13, 9, 0, tzinfo=UTC),
        due_at=datetime(2025, 6, 13, 10, 0, tzinfo=UTC),
    )

    assert moments.escalate_at is None
    assert moments.at_risk_at == datetime(2025, 6, 13, 9, 45, tzinfo=UTC)  # 75 %


def test_a_calendar_without_hours_counts_around_the_clock_rather_than_fail(make_policy):
    empty = BusinessCalendar.objects.create(name="not set up yet", timezone="Europe/Berlin")
    make_policy(calendar=empty, resolve_minutes=30)

    opened = datetime(2025, 6, 14, 3, 0, tzinfo=UTC)  # a Saturday night

    assert sla_due_at(code="PRICE_VARIANCE", opened_at=opened) == opened + timedelta(minutes=30)


def test_seed_creates_24_7_technical_and_inactive_office_hours_policies(no_policies):
    BusinessCalendar.objects.filter(name__in=[seed.ALWAYS, seed.OFFICE]).delete()

    assert seed.seed_defaults(django_apps) == (2, len(seed.POLICIES))
    assert seed.seed_defaults(django_apps) == (0, 0)  # only adds what is missing

    active = {p.scope: p for p in SlaPolicy.objects.filter(active=True)}
    assert set(active) == {"default", "Technical"}
    assert active["Technical"].calendar.always_open
    assert active["Technical"].escalation_email
    office = SlaPolicy.objects.filter(active=False)
    assert {p.scope for p in office} == {
        "Procure-to-pay",
        "Procure-to-pay (Supply chain)",
        "Master data",
    }
    assert all(not p.calendar.always_open for p in office)
    assert sorted(office[0].calendar.hours.values_list("weekday", flat=True)) == [1, 2, 3, 4, 5]


def test_sla_book_is_one_query_and_opening_costs_two_more(
    make_policy, office_hours, django_assert_num_queries
):
    office_hours.holidays.create(date=datetime(2025, 12, 25).date(), name="Christmas")
    make_policy(category="procure_to_pay", calendar=office_hours)
    make_policy(category="technical")
    open_exception("PRICE_VARIANCE")  # warm-up: catalogue checks, sequences

    with django_assert_num_queries(1):
        book = sla_book()
    calendar = book.calendar_of(book.policies[0])
    assert not calendar.always_open
    assert sorted(calendar.hours) == [1, 2, 3, 4, 5]
    assert calendar.holidays == frozenset({datetime(2025, 12, 25).date()})

    # The book, and the codes with the transaction's now(): a fixed cost per batch.
    specs = [
        ExceptionSpec(code=code, summary="s", root_cause_key=f"cost:{code}:{n}")
        for code in ("PRICE_VARIANCE", "PARSE_ERROR", "QTY_VARIANCE")
        for n in range(5)
    ]
    with django_assert_num_queries(2 + 5):  # + known codes, savepoint x2, insert, activities
        exceptions_open(specs)
