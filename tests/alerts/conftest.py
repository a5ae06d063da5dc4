"""Builders for SLA and alert tests: calendars, policies, exceptions on a fixed clock."""

import itertools
from datetime import UTC, datetime, time, timedelta

import pytest
from django.contrib.auth.models import Group, User

from apps.accounts import roles
from apps.alerts.models import BusinessCalendar, SlaPolicy, TeamMembership, WorkingHours
from apps.exceptions.models import BusinessException, Team
from apps.exceptions.services import ExceptionSpec, exceptions_open

_keys = itertools.count(1)

# A fixed Monday morning, so tests read like a timetable: T0 + minutes.
T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def no_policies(db):
    """Start from no policy at all, whatever the seed migration (or a flush) left."""
    SlaPolicy.objects.all().delete()


@pytest.fixture
def around_the_clock(db):
    calendar, _ = BusinessCalendar.objects.get_or_create(
        name="test 24/7", defaults={"always_open": True}
    )
    return calendar


@pytest.fixture
def office_hours(db):
    """New York, Monday to Friday 08:00-17:00."""
    calendar = BusinessCalendar.objects.create(
        name="test New York office", timezone="America/New_York"
    )
    WorkingHours.objects.bulk_create(
        WorkingHours(calendar=calendar, weekday=day, opens=time(8), closes=time(17))
        for day in range(1, 6)
    )
    return calendar


@pytest.fixture
def make_policy(no_policies, around_the_clock):
    def make(**fields) -> SlaPolicy:
        fields.setdefault("calendar", around_the_clock)
        fields.setdefault("name", f"policy {next(_keys)}")
        return SlaPolicy.objects.create(**fields)

    return make


def open_exception(code: str = "PRICE_VARIANCE", *, opened_at=None, due_in=None, **fields):
    """Open one exception (no transaction needed: a unique root cause each time). With
    ``opened_at``/``due_in`` (minutes), put it on the test's clock."""
    spec = ExceptionSpec(
        code=code,
        summary=fields.pop("summary", f"{code} for PO-4711 of ACME"),
        root_cause_key=f"test:alerts:{next(_keys)}",
        details=fields.pop("details", {"note": "details stay in HubConsole"}),
    )
    (exception_id,) = exceptions_open([spec])
    if opened_at is not None:
        BusinessException.objects.filter(pk=exception_id).update(
            opened_at=opened_at,
            last_seen_at=opened_at,
            due_at=opened_at + timedelta(minutes=due_in if due_in is not None else 60),
            **fields,
        )
    return BusinessException.objects.select_related("code", "team").get(pk=exception_id)


def team(slug: str) -> Team:
    return Team.objects.get(slug=slug)


def persona(username: str, role: roles.Role | None, *teams: str) -> User:
    user = User.objects.create_user(username, f"{username}@example.org", "pw-" + username)
    if role is not None:
        user.groups.add(Group.objects.get(name=role.name))
        user.is_staff = role.staff
        user.save(update_fields=["is_staff"])
    for slug in teams:
        TeamMembership.objects.create(user=user, team=team(slug))
    return user
