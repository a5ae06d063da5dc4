"""Business-time arithmetic: worked examples, then invariants over generated calendars."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.alerts.calendars import (
    ALWAYS_OPEN,
    Calendar,
    add_business_minutes,
    add_business_time,
    business_minutes_between,
    business_time_between,
)

NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS_8_TO_5 = {day: (time(8), time(17)) for day in range(1, 6)}
OFFICE = Calendar(timezone="America/New_York", hours=WEEKDAYS_8_TO_5)


def ny(*args) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


# --- Worked examples ----------------------------------------------------------------------------


def test_calendar_friday_afternoon_plus_an_hour_is_monday_morning():
    friday = ny(2025, 6, 13, 16, 30)

    due = add_business_minutes(friday, 60, OFFICE)

    assert due == ny(2025, 6, 16, 8, 30)
    assert business_minutes_between(friday, due, OFFICE) == 60


def test_calendar_skips_a_holiday():
    holiday_monday = Calendar(
        timezone="America/New_York", hours=WEEKDAYS_8_TO_5, holidays=frozenset({date(2025, 6, 16)})
    )

    due = add_business_minutes(ny(2025, 6, 13, 16, 30), 60, holiday_monday)

    assert due == ny(2025, 6, 17, 8, 30)
    assert (
        business_minutes_between(ny(2025, 6, 16, 0, 0), ny(2025, 6, 17, 0, 0), holiday_monday) == 0
    )


def test_calendar_spring_forward_weekend_keeps_local_opening_hours():
    # Clocks jump from 02:00 to 03:00 on Sunday 2024-03-10: Friday is UTC-5, Monday UTC-4.
    due = add_business_minutes(ny(2024, 3, 8, 16, 30), 60, OFFICE)

    assert due == ny(2024, 3, 11, 8, 30)
    assert due == datetime(2024, 3, 11, 12, 30, tzinfo=UTC)  # not 13:30 as fixed offsets say


def test_calendar_spring_forward_day_is_an_hour_shorter_and_fall_back_an_hour_longer():
    night_shift = Calendar(timezone="America/New_York", hours={7: (time(0), time(6))})

    spring = business_minutes_between(ny(2024, 3, 10, 0, 0), ny(2024, 3, 10, 23, 0), night_shift)
    autumn = business_minutes_between(ny(2024, 11, 3, 0, 0), ny(2024, 11, 3, 23, 0), night_shift)

    assert (spring, autumn) == (5 * 60, 7 * 60)
    # Three real hours after midnight on the short night is 04:00 on the new clock.
    assert add_business_minutes(ny(2024, 3, 10, 0, 0), 180, night_shift) == ny(2024, 3, 10, 4, 0)


def test_calendar_work_that_fits_the_day_ends_at_closing_time_not_next_morning():
    assert add_business_minutes(ny(2025, 6, 13, 16, 0), 60, OFFICE) == ny(2025, 6, 13, 17, 0)


def test_calendar_a_weekend_start_counts_from_monday_opening():
    assert add_business_minutes(ny(2025, 6, 14, 11, 0), 30, OFFICE) == ny(2025, 6, 16, 8, 30)
    assert business_minutes_between(ny(2025, 6, 14, 11, 0), ny(2025, 6, 16, 9, 0), OFFICE) == 60


def test_calendar_two_business_days_span_a_weekend():
    # Invoice exceptions "within 2 business days" (DESIGN §8), 9 hours a day.
    assert add_business_minutes(ny(2025, 6, 12, 10, 0), 2 * 9 * 60, OFFICE) == ny(
        2025, 6, 16, 10, 0
    )


def test_calendar_around_the_clock_is_plain_elapsed_time_across_dst():
    start = ny(2024, 3, 9, 23, 0)

    assert add_business_minutes(start, 240, ALWAYS_OPEN) - start == timedelta(hours=4)
    assert business_minutes_between(start, ny(2024, 3, 10, 4, 0), ALWAYS_OPEN) == 4 * 60


def test_calendar_between_is_negative_backwards_and_zero_adds_nothing():
    a, b = ny(2025, 6, 13, 9, 0), ny(2025, 6, 13, 10, 0)

    assert business_minutes_between(b, a, OFFICE) == -60
    assert add_business_minutes(ny(2025, 6, 14, 3, 0), 0, OFFICE) == ny(2025, 6, 14, 3, 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hours": {}}, "at least one weekday"),
        ({"hours": {1: (time(17), time(8))}}, "before closing"),
        ({"hours": {8: (time(8), time(17))}}, "1..7"),
    ],
)
def test_calendar_refuses_calendars_that_cannot_work(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Calendar(timezone="UTC", **kwargs)


def test_calendar_refuses_naive_datetimes():
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_minutes(datetime(2025, 6, 13, 9, 0), 10, OFFICE)


# --- Invariants ---------------------------------------------------------------------------------

ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata"]


@st.composite
def calendars(draw) -> Calendar:
    days = draw(st.sets(st.integers(1, 7), min_size=1))
    hours = {}
    for day in days:
        opens = draw(st.integers(0, 23 * 60 + 29))
        closes = draw(st.integers(opens + 30, 23 * 60 + 59))
        hours[day] = (time(*divmod(opens, 60)), time(*divmod(closes, 60)))
    holidays = draw(st.frozensets(st.dates(date(2023, 12, 20), date(2025, 2, 10)), max_size=20))
    return Calendar(timezone=draw(st.sampled_from(ZONES)), hours=hours, holidays=holidays)


instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2024, 12, 31), timezones=st.just(UTC)
)
# Up to ~a week of office time: with the thinnest calendar drawn (30 minutes a week) that is
# still within the arithmetic's twenty-year horizon.
minutes = st.integers(0, 10_000)
common = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@common
@given(calendar=calendars(), start=instants, amount=minutes)
def test_calendar_adding_then_measuring_gives_back_the_minutes(calendar, start, amount):
    end = add_business_minutes(start, amount, calendar)

    assert end >= start
    assert business_time_between(start, end, calendar) == timedelta(minutes=amount)


@common
@given(calendar=calendars(), start=instants, amount=st.integers(1, 10_000))
def test_calendar_adding_returns_the_earliest_such_instant(calendar, start, amount):
    end = add_business_minutes(start, amount, calendar)

    just_before = end - timedelta(microseconds=1)
    assert business_time_between(start, just_before, calendar) < timedelta(minutes=amount)


@common
@given(calendar=calendars(), start=instants, a=minutes, b=minutes)
def test_calendar_adding_is_monotonic(calendar, start, a, b):
    low, high = sorted((a, b))

    assert add_business_minutes(start, low, calendar) <= add_business_minutes(start, high, calendar)


@common
@given(calendar=calendars(), moments=st.lists(instants, min_size=3, max_size=3))
def test_calendar_measuring_is_monotonic_additive_and_bounded_by_elapsed_time(calendar, moments):
    a, b, c = sorted(moments)

    ab, bc, ac = (
        business_time_between(a, b, calendar),
        business_time_between(b, c, calendar),
        business_time_between(a, c, calendar),
    )

    assert timedelta(0) <= ab <= ac <= c - a
    assert ab + bc == ac


@common
@given(start=instants, amount=minutes)
def test_calendar_around_the_clock_adds_elapsed_minutes(start, amount):
    assert add_business_time(start, timedelta(minutes=amount), ALWAYS_OPEN) == start + timedelta(
        minutes=amount
    )
