"""The time windows a dashboard can show and the buckets each one is cut into."""

import datetime
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.utils import timezone

UTC = datetime.UTC


@dataclass(frozen=True)
class WindowChoice:
    key: str
    label: str
    unit: str  # "hour" or "day": date_trunc's field, and the bucket size
    buckets: int


WINDOW_CHOICES = (
    WindowChoice("24h", "Last 24 hours", "hour", 24),
    WindowChoice("7d", "Last 7 days", "day", 7),
    WindowChoice("30d", "Last 30 days", "day", 30),
)
WINDOWS = {choice.key: choice for choice in WINDOW_CHOICES}
DEFAULT_WINDOW = "24h"


@dataclass(frozen=True)
class Window:
    """A chosen window: its buckets (the last one ends now, so it is partial) in a time zone.

    ``starts`` are the buckets' first instants, oldest first; a bucket runs to the next start
    and the last one to ``end``. Day buckets begin at local midnight in ``tz``.
    """

    choice: WindowChoice
    starts: tuple[datetime.datetime, ...]
    end: datetime.datetime
    tz: str

    @property
    def key(self) -> str:
        return self.choice.key

    @property
    def unit(self) -> str:
        return self.choice.unit

    @property
    def bucket_label(self) -> str:
        """What one bucket is called on an axis or in a table: Hour or Day."""
        return self.choice.unit.capitalize()

    @property
    def start(self) -> datetime.datetime:
        return self.starts[0]

    @property
    def ends(self) -> tuple[datetime.datetime, ...]:
        return (*self.starts[1:], self.end)

    def sql_params(self) -> dict:
        """The parameters every dashboard query takes: the bounds, and the bucket starts that
        width_bucket() numbers rows by (1 for the first bucket)."""
        return {
            "edges": list(self.starts),
            "buckets": len(self.starts),
            "start": self.start,
            "end": self.end,
        }


def window_choice(key: str | None) -> WindowChoice:
    """The window named ``key``; anything else (missing, mistyped, hostile) is the default."""
    return WINDOWS.get(key or "", WINDOWS[DEFAULT_WINDOW])


def window_get(
    *, key: str | None, now: datetime.datetime | None = None, tz: str | None = None
) -> Window:
    """The window ``key`` ending at ``now``, bucketed in ``tz`` (default: the display zone)."""
    choice = window_choice(key)
    now = now or timezone.now()
    tz = tz or timezone.get_current_timezone_name()
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    if choice.unit == "hour":
        # Whole hours are absolute: step back in UTC so a DST change neither skips nor
        # repeats a bucket (local hour starts stay on the same UTC minute).
        current = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
        starts = tuple(
            current - datetime.timedelta(hours=n) for n in range(choice.buckets - 1, -1, -1)
        )
    else:
        # Days are local: each bucket begins at midnight in the zone, 23 or 25 hours apart
        # around a DST change.
        today = local.date()
        starts = tuple(
            datetime.datetime.combine(
                today - datetime.timedelta(days=n), datetime.time(0), tzinfo=zone
            ).astimezone(UTC)
            for n in range(choice.buckets - 1, -1, -1)
        )
    return Window(choice=choice, starts=starts, end=now.astimezone(UTC), tz=tz)
