"""The dashboards page's panels: which figures each chart shows, with its words and units."""

import datetime
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from apps.dashboards.charts import (
    OTHERS_CSS,
    Chart,
    Series,
    Table,
    bar_chart,
    format_count,
    format_percent,
    line_chart,
)
from apps.dashboards.selectors import (
    EXCEPTION_DIMENSIONS,
    EXCEPTION_TOP,
    Dashboard,
    DimensionSeries,
)
from apps.dashboards.windows import Window

PLURALS = {"code": "codes", "team": "teams", "supplier": "suppliers", "facility": "facilities"}


@dataclass(frozen=True)
class Headline:
    label: str
    value: str
    note: str = ""


@dataclass(frozen=True)
class Section:
    id: str
    heading: str
    charts: list[Chart]


@dataclass(frozen=True)
class Panels:
    window: Window
    period: str  # "Tue 4 Nov 15:00 to Wed 5 Nov 14:37 (UTC)"
    headlines: list[Headline]
    sections: list[Section]


def _labels(window: Window) -> tuple[list[str], list[str]]:
    """Short labels for the x axis and long ones for tooltips and tables, in the window's
    zone; the last bucket is still running and says so."""
    zone = ZoneInfo(window.tz)
    short, long = [], []
    last = len(window.starts) - 1
    for n, (start, end) in enumerate(zip(window.starts, window.ends, strict=True)):
        start, end = start.astimezone(zone), end.astimezone(zone)
        if window.unit == "hour":
            short.append(f"{start:%H:%M}")
            until = "now" if n == last else f"{end:%H:%M}"
            long.append(f"{start:%a} {start.day} {start:%b %H:%M} to {until}")
        else:
            short.append(f"{start.day} {start:%b}")
            long.append(
                f"{start:%a} {start.day} {start:%b %Y}" + (" (so far)" if n == last else "")
            )
    return short, long


def _moment(value: datetime.datetime, zone: ZoneInfo) -> str:
    local = value.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y %H:%M}"


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:,.3f} s"


def _flow_charts(dashboard: Dashboard, labels, long) -> list[Chart]:
    flow = dashboard.flow
    bucket = dashboard.window.bucket_label
    throughput = line_chart(
        id="throughput",
        title="Throughput",
        description="Transactions received and completed in each "
        f"{bucket.lower()}, inbound (from senders) and outbound (to targets).",
        labels=labels,
        long_labels=long,
        series=[
            Series("Received inbound", [b.received_in for b in flow]),
            Series("Completed inbound", [b.completed_in for b in flow]),
            Series("Received outbound", [b.received_out for b in flow]),
            Series("Completed outbound", [b.completed_out for b in flow]),
        ],
        x_label=bucket,
        y_label="Transactions",
    )
    latency = dashboard.latency
    latency_chart = line_chart(
        id="latency",
        title="Latency",
        description="Time from received to completed of the transactions completed in each "
        f"{bucket.lower()}: half took at most p50, 95 in 100 at most p95, 99 in 100 at most "
        "p99.",
        labels=labels,
        long_labels=long,
        series=[
            Series("p50", [b.p50 for b in latency]),
            Series("p95", [b.p95 for b in latency]),
            Series("p99", [b.p99 for b in latency]),
        ],
        x_label=bucket,
        y_label="Received to completed",
        unit="seconds",
        table=Table(
            [bucket, "Completed", "p50", "p95", "p99"],
            [
                [
                    label,
                    format_count(b.completed),
                    _seconds(b.p50),
                    _seconds(b.p95),
                    _seconds(b.p99),
                ]
                for label, b in zip(long, latency, strict=True)
            ],
        ),
    )
    return [throughput, latency_chart]


def _queue_charts(dashboard: Dashboard, labels, long) -> list[Chart]:
    queue = dashboard.queue
    bucket = dashboard.window.bucket_label
    now = bar_chart(
        id="queue-now",
        title="Work waiting now",
        description="Work items per stage at this moment: being worked on, ready for the next "
        "free worker, or scheduled for later (a retry after a failure, or a paused connector).",
        labels=[stage.label for stage in queue],
        series=[
            Series("In progress", [stage.in_progress for stage in queue]),
            Series("Ready", [stage.ready for stage in queue]),
            Series("Scheduled for later", [stage.scheduled for stage in queue]),
        ],
        x_label="Stage",
        y_label="Work items",
        empty_message="Nothing waiting now.",
    )
    flow = dashboard.flow
    backlog = line_chart(
        id="backlog",
        title="Received, not yet completed",
        description="At the end of each "
        f"{bucket.lower()}: transactions received since the window began that were not "
        "completed yet, whether queued, retrying, waiting or stopped with an exception.",
        labels=labels,
        long_labels=[label.replace("(so far)", "(now)") for label in long],
        series=[
            Series("Inbound", [b.open_in for b in flow]),
            Series("Outbound", [b.open_out for b in flow]),
        ],
        x_label=f"End of {bucket.lower()}",
        y_label="Transactions",
    )
    return [now, backlog]


def _exception_chart(
    dimension: str, series: list[DimensionSeries], bucket: str, labels, long
) -> Chart:
    noun, nouns = dimension, PLURALS[dimension]
    chart_series = [Series(s.name, s.counts, OTHERS_CSS if s.value is None else "") for s in series]
    totals = [sum(s.counts[i] for s in series) for i in range(len(long))]
    return bar_chart(
        id=f"exceptions-{dimension}",
        title=f"Exceptions opened by {noun}",
        description=f"Business exceptions opened in each {bucket.lower()}, by {noun}: the "
        f"{EXCEPTION_TOP} {nouns} with most in this window, the rest together as “Others”."
        + (
            f" Exceptions that name no {noun} are not counted here."
            if dimension in ("supplier", "facility")
            else ""
        ),
        labels=labels,
        long_labels=long,
        series=chart_series,
        x_label=bucket,
        y_label="Exceptions opened",
        table=Table(
            [bucket, *(s.name for s in series), "Total"],
            [
                [label, *(format_count(s.counts[i]) for s in series), format_count(totals[i])]
                for i, label in enumerate(long)
            ],
        ),
    )


def _invoice_charts(dashboard: Dashboard, labels, long) -> list[Chart]:
    bucket = dashboard.window.bucket_label
    touchless = dashboard.touchless
    rate = line_chart(
        id="touchless",
        title="Touchless invoices",
        description="Share of the invoices decided in each "
        f"{bucket.lower()} that matched with no person involved: no business exception on "
        "the invoice's message and no variance accepted by a person.",
        labels=labels,
        long_labels=long,
        series=[Series("Touchless rate", [b.rate for b in touchless])],
        x_label=bucket,
        y_label="Touchless",
        unit="percent",
        table=Table(
            [bucket, "Invoices decided", "Touchless", "Rate"],
            [
                [label, format_count(b.decided), format_count(b.touchless), format_percent(b.rate)]
                for label, b in zip(long, touchless, strict=True)
            ],
        ),
    )
    duplicates = bar_chart(
        id="duplicates",
        title="Duplicates suppressed",
        description="Messages a sender sent again with the same key and content: recognised, "
        "recorded and not processed or posted a second time.",
        labels=labels,
        long_labels=long,
        series=[Series("Duplicates suppressed", [b.count for b in dashboard.duplicates])],
        x_label=bucket,
        y_label="Duplicates",
    )
    return [rate, duplicates]


def _headlines(dashboard: Dashboard) -> list[Headline]:
    flow = dashboard.flow
    received = sum(b.received_in + b.received_out for b in flow)
    completed = sum(b.completed_in + b.completed_out for b in flow)
    still_open = (flow[-1].open_in + flow[-1].open_out) if flow else 0
    opened = sum(s.total for s in dashboard.exceptions.get("code", []))
    decided = sum(b.decided for b in dashboard.touchless)
    touchless = sum(b.touchless for b in dashboard.touchless)
    waiting = sum(stage.total for stage in dashboard.queue)
    return [
        Headline("Received", format_count(received)),
        Headline("Completed", format_count(completed), "of those received in the window"),
        Headline("Not completed", format_count(still_open), "received in the window"),
        Headline("Work waiting now", format_count(waiting)),
        Headline("Exceptions opened", format_count(opened)),
        Headline(
            "Touchless invoices",
            format_percent(touchless / decided if decided else None),
            f"{touchless:,} of {decided:,} decided",
        ),
        Headline("Duplicates suppressed", format_count(sum(b.count for b in dashboard.duplicates))),
    ]


def dashboard_panels(dashboard: Dashboard) -> Panels:
    """The dashboard's figures as headline numbers and charts, in the order shown."""
    window = dashboard.window
    labels, long = _labels(window)
    bucket = window.bucket_label
    zone = ZoneInfo(window.tz)
    return Panels(
        window=window,
        period=f"{_moment(window.start, zone)} to {_moment(window.end, zone)} ({window.tz})",
        headlines=_headlines(dashboard),
        sections=[
            Section("flow", "Throughput and latency", _flow_charts(dashboard, labels, long)),
            Section("queues", "Queues", _queue_charts(dashboard, labels, long)),
            Section(
                "exceptions",
                "Exceptions",
                [
                    _exception_chart(d, dashboard.exceptions[d], bucket, labels, long)
                    for d in EXCEPTION_DIMENSIONS
                ],
            ),
            Section(
                "invoices", "Invoices and duplicates", _invoice_charts(dashboard, labels, long)
            ),
        ],
    )
