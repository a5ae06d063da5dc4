"""Business-time arithmetic on working calendars: plain Python, no ORM, testable alone.

A calendar is a time zone, opening hours per weekday (one interval a day, no overnight shifts)
and holidays (local dates). Business time is *elapsed* time inside opening hours: all
arithmetic happens on UTC instants, and opening hours are turned into instants through the
calendar's time zone day by day, so a day that changes clocks is as long as it really is. A
local time that does not exist that day (inside a spring-forward gap) is read with the offset
before the change, as PEP 495 does (02:30 becomes 03:30); an ambiguous one (fall-back) is its
first occurrence.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ZERO = timedelta(0)
# A calendar with opening hours on at least one weekday reaches any amount of business time,
# unless holidays cover every working day for years: stop there instead of looping forever.
_MAX_DAYS = 366 * 20


@dataclass(frozen=True)
class Calendar:
    """Working time. ``hours`` maps ISO weekday (1 = Monday … 7 = Sunday) to (opens, closes);
    a weekday missing from it is closed. ``always_open`` ignores hours and holidays (24/7)."""

    timezone: str = "UTC"
    hours: Mapping[int, tuple[time, time]] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()
    always_open: bool = False

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # an unknown zone fails here, not in the middle of a scan
        for weekday, (opens, closes) in self.hours.items():
            if weekday not in range(1, 8):
                raise ValueError(f"weekday must be 1..7, not {weekday}")
            if not opens < closes:
                raise ValueError(f"weekday {weekday}: opening must be before closing")
        if not self.always_open and not self.hours:
            raise ValueError("a calendar needs opening hours on at least one weekday")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


ALWAYS_OPEN = Calendar(always_open=True)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("business-time arithmetic needs timezone-aware datetimes")
    return moment.astimezone(UTC)


def _instant(day: date, clock: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


def _open_intervals(calendar: Calendar, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Opening intervals (UTC, half-open) in time order, from the day ``start`` falls on."""
    zone = calendar.zone
    day = start.astimezone(zone).date()
    for _ in range(_MAX_DAYS):
        hours = calendar.hours.get(day.isoweekday())
        if hours is not None and day not in calendar.holidays:
            opens, closes = _instant(day, hours[0], zone), _instant(day, hours[1], zone)
            if opens < closes:  # a closing time swallowed by a clock change leaves nothing
                yield opens, closes
        day += timedelta(days=1)
    raise ValueError("the calendar has no working time within twenty years")


def add_business_time(start: datetime, amount: timedelta, calendar: Calendar) -> datetime:
    """The earliest instant at which ``amount`` of business time has passed since ``start``.

    Zero returns ``start`` itself; otherwise the answer lies inside opening hours or at a
    closing time (Friday 16:00 + 1 h with 08:00-17:00 is Friday 17:00, not Monday 08:00).
    Returned in UTC.
    """
    start = _utc(start)
    if amount < ZERO:
        raise ValueError("business time to add must not be negative")
    if calendar.always_open or amount == ZERO:
        return start + amount
    remaining = amount
    for opens, closes in _open_intervals(calendar, start):
        if closes <= start:
            continue
        begin = max(opens, start)
        available = closes - begin
        if remaining <= available:
            return begin + remaining
        remaining -= available
    raise AssertionError("unreachable: _open_intervals raises when exhausted")


def business_time_between(a: datetime, b: datetime, calendar: Calendar) -> timedelta:
    """Business time from ``a`` to ``b`` (negative when ``b`` is before ``a``)."""
    a, b = _utc(a), _utc(b)
    if b < a:
        return -business_time_between(b, a, calendar)
    if calendar.always_open:
        return b - a
    total = ZERO
    for opens, closes in _open_intervals(calendar, a):
        if opens >= b:
            break
        overlap = min(closes, b) - max(opens, a)
        if overlap > ZERO:
            total += overlap
    return total


def add_business_minutes(start: datetime, minutes: float, calendar: Calendar) -> datetime:
    """``start`` plus ``minutes`` of business time (see add_business_time)."""
    return add_business_time(start, timedelta(minutes=minutes), calendar)


def business_minutes_between(a: datetime, b: datetime, calendar: Calendar) -> float:
    """Minutes of business time from ``a`` to ``b``."""
    return business_time_between(a, b, calendar) / timedelta(minutes=1)
