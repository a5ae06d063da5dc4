"""Chart geometry: series of figures in, SVG coordinates, ticks, tooltips and tables out.

Plain Python with no Django import: the template draws what this computes, so the drawing
is tested here without a browser. Coordinates are SVG user units of a fixed view box that
the stylesheet scales to the page's width; colours are CSS classes (``s0``…), never inline
styles, which the Content-Security-Policy forbids.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

WIDTH = 720
HEIGHT = 280
MARGIN_LEFT = 64
MARGIN_RIGHT = 16
MARGIN_TOP = 12
MARGIN_BOTTOM = 52
PALETTE = 8  # series colours s0..s7 in static/css/dashboards.css; "others" is s-other
OTHERS_CSS = "s-other"
MAX_X_LABELS = 12
NOTHING = "Nothing in this window."
NO_VALUE = "—"


# --- Formatting ---------------------------------------------------------------------------


def format_count(value: float | None) -> str:
    return NO_VALUE if value is None else f"{round(value):,}"


def format_seconds(value: float | None) -> str:
    """A duration readable at a glance: 250 ms, 1.5 s, 80 s, 2.5 min, 3.2 h (seconds up to two
    minutes and minutes up to two hours, so axis steps of 20 s or 30 min stay whole)."""
    if value is None:
        return NO_VALUE
    if value == 0:
        return "0 s"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.3g} s"
    if value < 7200:
        return f"{value / 60:.3g} min"
    return f"{value / 3600:.3g} h"


def format_percent(value: float | None) -> str:
    return NO_VALUE if value is None else f"{value * 100:.1f} %".replace(".0 %", " %")


FORMATS: dict[str, Callable[[float | None], str]] = {
    "count": format_count,
    "seconds": format_seconds,
    "percent": format_percent,
}


# --- Scales -------------------------------------------------------------------------------


def nice_scale(maximum: float, *, ticks: int = 4, integer: bool = False) -> tuple[float, float]:
    """The top of a y axis at or above ``maximum`` and its tick step: a step of 1, 2, 2.5 or
    5 times a power of ten, so every tick label is a round number (whole for counts)."""
    maximum = float(maximum)
    if maximum <= 0 or not math.isfinite(maximum):
        return (float(ticks) if integer else 1.0), (1.0 if integer else 1.0 / ticks)
    raw = maximum / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = 10 * magnitude
    for multiple in (1, 2, 2.5, 5, 10):
        candidate = multiple * magnitude
        if integer and candidate != int(candidate):
            continue
        if candidate * ticks >= maximum:
            step = candidate
            break
    if integer:
        step = max(1.0, step)
    top = step * math.ceil(maximum / step - 1e-9)
    return float(top), float(step)


# Steps a duration axis may take, in seconds: round in the unit their labels are shown in.
DURATION_STEPS = (
    *(ms / 1000 for ms in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500)),
    *(1, 2, 5, 10, 15, 20, 30),
    *(60 * m for m in (1, 2, 5, 10, 15, 20, 30)),
    *(3600 * h for h in (1, 2, 3, 6, 12, 24)),
)


def duration_scale(maximum: float, *, ticks: int = 4) -> tuple[float, float]:
    """Like nice_scale, for seconds: steps of 250 ms, 15 s, 5 min, 6 h... so the labels read
    as round durations, never "1.33 min"."""
    maximum = float(maximum)
    if maximum <= 0 or not math.isfinite(maximum):
        return 1.0, 0.25
    step = next((s for s in DURATION_STEPS if s * ticks >= maximum), None)
    if step is None:  # beyond four days: whole days
        step = 86400.0 * math.ceil(maximum / ticks / 86400)
    return float(step * math.ceil(maximum / step - 1e-9)), float(step)


def _tick_values(top: float, step: float) -> list[float]:
    count = round(top / step)
    return [round(step * n, 10) for n in range(count + 1)]


# --- Geometry -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    css: str = ""  # a colour class; empty: the next of the palette


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class Line:
    css: str
    segments: list[str]  # polyline "points" attributes; a missing value breaks the line
    points: list[Point]


@dataclass(frozen=True)
class LegendEntry:
    name: str
    css: str


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Chart:
    """Everything the template needs to draw one chart and its table of figures."""

    id: str
    kind: str  # "bar" or "line"
    title: str
    description: str
    x_label: str
    y_label: str
    legend: list[LegendEntry]
    table: Table
    empty: bool
    empty_message: str = NOTHING
    width: int = WIDTH
    height: int = HEIGHT
    left: float = MARGIN_LEFT
    top: float = MARGIN_TOP
    right: float = WIDTH - MARGIN_RIGHT
    bottom: float = HEIGHT - MARGIN_BOTTOM
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    bars: list[Rect] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)

    @property
    def x_label_y(self) -> float:
        return self.height - 8

    @property
    def x_tick_y(self) -> float:
        return self.bottom + 18

    @property
    def y_label_x(self) -> float:
        return 14

    @property
    def middle_x(self) -> float:
        return round((self.left + self.right) / 2, 1)

    @property
    def middle_y(self) -> float:
        return round((self.top + self.bottom) / 2, 1)

    @property
    def tick_x(self) -> float:
        return self.left - 6


def _coloured(series: Sequence[Series]) -> list[Series]:
    coloured, n = [], 0
    for s in series:
        if s.css:
            coloured.append(s)
        else:
            coloured.append(Series(s.name, s.values, f"s{n % PALETTE}"))
            n += 1
    return coloured


def _r(value: float) -> float:
    return round(value, 1)


def _x_ticks(labels: Sequence[str], left: float, band: float) -> list[Tick]:
    """At most MAX_X_LABELS labels, counted back from the latest bucket so it is always named."""
    n = len(labels)
    every = max(1, math.ceil(n / MAX_X_LABELS))
    return [
        Tick(_r(left + band * (i + 0.5)), labels[i]) for i in range(n) if (n - 1 - i) % every == 0
    ]


def _table(x_header: str, long_labels: Sequence[str], series: Sequence[Series], fmt) -> Table:
    return Table(
        columns=[x_header, *(s.name for s in series)],
        rows=[[label, *(fmt(s.values[i]) for s in series)] for i, label in enumerate(long_labels)],
    )


@dataclass(frozen=True)
class _Frame:
    """The plot area and its y scale."""

    left: float
    top: float
    right: float
    bottom: float
    y_max: float

    def y(self, value: float) -> float:
        return self.bottom - (self.bottom - self.top) * (value / self.y_max)


def _frame(maximum: float, unit: str) -> tuple[_Frame, list[Tick]]:
    if unit == "percent":
        top, step = 1.0, 0.25
    elif unit == "seconds":
        top, step = duration_scale(maximum)
    else:
        top, step = nice_scale(maximum, integer=unit == "count")
    frame = _Frame(MARGIN_LEFT, MARGIN_TOP, WIDTH - MARGIN_RIGHT, HEIGHT - MARGIN_BOTTOM, top)
    fmt = FORMATS[unit]
    ticks = [Tick(_r(frame.y(v)), fmt(v)) for v in _tick_values(top, step)]
    return frame, ticks


def _prepared(labels, series, x_label, unit, long_labels, table):
    """What every chart starts from: coloured series, labels for the table and tooltips, the
    unit's format, the figures table and the legend."""
    series = _coloured(series)
    long_labels = list(long_labels or labels)
    fmt = FORMATS[unit]
    table = table or _table(x_label, long_labels, series, fmt)
    legend = [LegendEntry(s.name, s.css) for s in series]
    return series, long_labels, fmt, table, legend


def bar_chart(
    *,
    id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    x_label: str,
    y_label: str,
    unit: str = "count",
    long_labels: Sequence[str] | None = None,
    table: Table | None = None,
    empty_message: str = NOTHING,
) -> Chart:
    """Bars per label, the series stacked in the order given (first at the bottom)."""
    series, long_labels, fmt, table, legend = _prepared(
        labels, series, x_label, unit, long_labels, table
    )
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(labels))]
    if not labels or not any(totals):
        return Chart(
            id, "bar", title, description, x_label, y_label, legend, table, True, empty_message
        )
    frame, y_ticks = _frame(max(totals), unit)
    band = (frame.right - frame.left) / len(labels)
    width = band * 0.7
    bars = []
    for i, label in enumerate(long_labels):
        x = frame.left + band * i + (band - width) / 2
        base = 0.0
        for s in series:
            value = s.values[i] or 0
            if value <= 0:
                continue
            y_low, y_high = frame.y(base), frame.y(base + value)
            bars.append(
                Rect(
                    _r(x),
                    _r(y_high),
                    _r(width),
                    # Never thinner than a hair: a 1 beside a 10,000 must still be seen.
                    max(_r(y_low - y_high), 0.5),
                    s.css,
                    f"{s.name}, {label}: {fmt(value)}",
                )
            )
            base += value
    return Chart(
        id,
        "bar",
        title,
        description,
        x_label,
        y_label,
        legend,
        table,
        False,
        empty_message,
        y_ticks=y_ticks,
        x_ticks=_x_ticks(labels, frame.left, band),
        bars=bars,
    )


def line_chart(
    *,
    id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    x_label: str,
    y_label: str,
    unit: str = "count",
    long_labels: Sequence[str] | None = None,
    table: Table | None = None,
    empty_message: str = NOTHING,
) -> Chart:
    """One line per series through the middle of each bucket; a missing value (None) is a
    gap in the line, not a zero."""
    series, long_labels, fmt, table, legend = _prepared(
        labels, series, x_label, unit, long_labels, table
    )
    present = [v for s in series for v in s.values if v is not None]
    if not labels or not present or (unit == "count" and not any(present)):
        return Chart(
            id, "line", title, description, x_label, y_label, legend, table, True, empty_message
        )
    frame, y_ticks = _frame(max(present), unit)
    band = (frame.right - frame.left) / len(labels)
    lines = []
    for s in series:
        segments, points, current = [], [], []
        for i, value in enumerate(s.values):
            if value is None:
                if current:
                    segments.append(" ".join(current))
                current = []
                continue
            x, y = _r(frame.left + band * (i + 0.5)), _r(frame.y(value))
            current.append(f"{x},{y}")
            points.append(Point(x, y, f"{s.name}, {long_labels[i]}: {fmt(value)}"))
        if current:
            segments.append(" ".join(current))
        lines.append(Line(s.css, segments, points))
    return Chart(
        id,
        "line",
        title,
        description,
        x_label,
        y_label,
        legend,
        table,
        False,
        empty_message,
        y_ticks=y_ticks,
        x_ticks=_x_ticks(labels, frame.left, band),
        lines=lines,
    )
