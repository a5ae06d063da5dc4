"""Chart geometry: scales, stacked bars, lines with gaps, labels, tooltips, tables, empties."""

import pytest

from apps.dashboards.charts import (
    HEIGHT,
    MARGIN_BOTTOM,
    MARGIN_LEFT,
    MARGIN_RIGHT,
    MARGIN_TOP,
    MAX_X_LABELS,
    OTHERS_CSS,
    WIDTH,
    Series,
    bar_chart,
    duration_scale,
    format_count,
    format_percent,
    format_seconds,
    line_chart,
    nice_scale,
)

BOTTOM = HEIGHT - MARGIN_BOTTOM
PLOT_HEIGHT = BOTTOM - MARGIN_TOP
PLOT_WIDTH = WIDTH - MARGIN_RIGHT - MARGIN_LEFT


@pytest.mark.parametrize(
    ("maximum", "integer", "expected"),
    [
        (0, True, (4.0, 1.0)),
        (1, True, (1.0, 1.0)),
        (3, True, (3.0, 1.0)),
        (7, True, (8.0, 2.0)),
        (10, True, (10.0, 5.0)),
        (101, True, (150.0, 50.0)),
        (1234, True, (1500.0, 500.0)),
        (0.9, False, (1.0, 0.25)),
        (19, False, (20.0, 5.0)),
        (1500, False, (1500.0, 500.0)),
    ],
)
def test_nice_scale_reaches_the_maximum_in_round_steps(maximum, integer, expected):
    top, step = nice_scale(maximum, integer=integer)

    assert (top, step) == expected
    assert top >= maximum
    assert round(top / step) <= 5


@pytest.mark.parametrize(
    ("maximum", "ticks"),
    [
        (0.9, ["0 s", "250 ms", "500 ms", "750 ms", "1 s"]),
        (80, ["0 s", "20 s", "40 s", "60 s", "80 s"]),
        (1500, ["0 s", "10 min", "20 min", "30 min"]),
        (5 * 3600, ["0 s", "2 h", "4 h", "6 h"]),
        (9 * 86400, ["0 s", "72 h", "144 h", "216 h"]),
    ],
)
def test_duration_axes_step_in_round_durations(maximum, ticks):
    top, step = duration_scale(maximum)

    assert top >= maximum
    labels = [format_seconds(step * n) for n in range(round(top / step) + 1)]
    assert labels == ticks


def test_formats_read_as_people_write_them():
    assert format_count(1234567) == "1,234,567"
    assert format_count(None) == "—"
    assert [format_seconds(v) for v in (0, 0.25, 1.5, 19, 80, 150, 5400, 7200)] == [
        "0 s",
        "250 ms",
        "1.5 s",
        "19 s",
        "80 s",
        "2.5 min",
        "90 min",
        "2 h",
    ]
    assert format_percent(2 / 3) == "66.7 %"
    assert format_percent(1.0) == "100 %"
    assert format_percent(None) == "—"


def stacked():
    return bar_chart(
        id="t",
        title="Exceptions",
        description="",
        labels=["10:00", "11:00", "12:00"],
        long_labels=["10:00 to 11:00", "11:00 to 12:00", "12:00 to now"],
        series=[
            Series("A", [2, 0, 1]),
            Series("B", [2, 3, None]),
            Series("Others", [0, 1, 0], OTHERS_CSS),
        ],
        x_label="Hour",
        y_label="Opened",
    )


def test_bar_chart_stacks_series_in_order_with_heights_in_proportion():
    chart = stacked()

    # Totals 4, 4, 1: the axis tops at 4 in steps of 1.
    assert [t.label for t in chart.y_ticks] == ["0", "1", "2", "3", "4"]
    assert chart.y_ticks[0].position == BOTTOM
    assert chart.y_ticks[-1].position == MARGIN_TOP
    first = [bar for bar in chart.bars if bar.title.endswith("10:00 to 11:00: 2")]
    assert [bar.css for bar in first] == ["s0", "s1"]
    a, b = first
    assert a.height == b.height == round(PLOT_HEIGHT / 2, 1)
    assert a.y + a.height == pytest.approx(BOTTOM, abs=0.1)  # first series on the axis
    assert b.y + b.height == pytest.approx(a.y, abs=0.1)  # the next one on top of it
    band = PLOT_WIDTH / 3
    assert a.x == round(MARGIN_LEFT + band * 0.15, 1)
    assert a.width == round(band * 0.7, 1)


def test_bar_chart_draws_no_bar_for_zero_or_missing_and_keeps_given_classes():
    chart = stacked()

    assert len(chart.bars) == 5  # 2+2, 3+1, 1: zeros and None draw nothing
    assert [bar.title for bar in chart.bars if bar.css == OTHERS_CSS] == [
        "Others, 11:00 to 12:00: 1"
    ]
    assert [e.css for e in chart.legend] == ["s0", "s1", OTHERS_CSS]


def test_bar_chart_table_holds_every_figure_exactly():
    chart = stacked()

    assert chart.table.columns == ["Hour", "A", "B", "Others"]
    assert chart.table.rows == [
        ["10:00 to 11:00", "2", "2", "0"],
        ["11:00 to 12:00", "0", "3", "1"],
        ["12:00 to now", "1", "—", "0"],
    ]


def test_a_tiny_bar_beside_a_huge_one_stays_visible():
    chart = bar_chart(
        id="t",
        title="t",
        description="",
        labels=["a", "b"],
        series=[Series("n", [10_000, 1])],
        x_label="x",
        y_label="y",
    )
    assert min(bar.height for bar in chart.bars) == 0.5


def test_line_chart_breaks_at_missing_values_and_marks_every_point():
    chart = line_chart(
        id="latency",
        title="Latency",
        description="",
        labels=["a", "b", "c", "d"],
        series=[Series("p95", [1.0, None, 2.0, 2.0])],
        x_label="Hour",
        y_label="Seconds",
        unit="seconds",
    )

    (line,) = chart.lines
    assert len(line.segments) == 2
    assert len(line.segments[0].split()) == 1
    assert len(line.segments[1].split()) == 2
    assert [p.title for p in line.points] == ["p95, a: 1 s", "p95, c: 2 s", "p95, d: 2 s"]
    band = PLOT_WIDTH / 4
    assert line.points[0].x == round(MARGIN_LEFT + band / 2, 1)
    assert [t.label for t in chart.y_ticks] == ["0 s", "500 ms", "1 s", "1.5 s", "2 s"]
    assert line.points[1].y == MARGIN_TOP  # 2 s is the top of the axis


def test_percent_lines_always_span_zero_to_a_hundred():
    chart = line_chart(
        id="rate",
        title="Touchless",
        description="",
        labels=["a", "b"],
        series=[Series("rate", [0.5, None])],
        x_label="Day",
        y_label="Touchless",
        unit="percent",
    )
    assert [t.label for t in chart.y_ticks] == ["0 %", "25 %", "50 %", "75 %", "100 %"]
    assert chart.lines[0].points[0].y == round((MARGIN_TOP + BOTTOM) / 2, 1)


@pytest.mark.parametrize(
    ("build", "values"),
    [(bar_chart, [0, 0, None]), (line_chart, [0, 0, 0]), (line_chart, [None, None, None])],
)
def test_nothing_to_draw_is_an_empty_chart_with_a_message(build, values):
    chart = build(
        id="t",
        title="t",
        description="",
        labels=["a", "b", "c"],
        series=[Series("n", values)],
        x_label="x",
        y_label="y",
        empty_message="Nothing waiting now.",
    )
    assert chart.empty
    assert chart.empty_message == "Nothing waiting now."
    assert chart.bars == []
    assert chart.lines == []


def test_x_labels_are_thinned_and_the_latest_bucket_is_always_named():
    labels = [f"{n} Mar" for n in range(1, 31)]
    chart = bar_chart(
        id="t",
        title="t",
        description="",
        labels=labels,
        series=[Series("n", [1] * 30)],
        x_label="Day",
        y_label="n",
    )

    names = [t.label for t in chart.x_ticks]
    assert len(names) <= MAX_X_LABELS
    assert names[-1] == "30 Mar"
    assert names == labels[2::3]


def test_series_get_palette_classes_in_turn():
    chart = line_chart(
        id="t",
        title="t",
        description="",
        labels=["a"],
        series=[Series(f"s{n}", [n + 1]) for n in range(10)],
        x_label="x",
        y_label="y",
    )
    assert [e.css for e in chart.legend] == [f"s{n % 8}" for n in range(10)]
