"""Alert e-mails, built only from what may leave the building.

An alert says which exception (code, id, link), whose it is (team), how old and how late it is
(age, due time, SLA state) and how many there are. It never carries an exception's summary,
details or any payload: summaries may quote business keys, and details or payloads may hold
patient identifiers. Templates receive the plain ``AlertLine`` values below, never a model
instance, so no template can reach for a field that must not be mailed.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from apps.alerts.choices import AlertKindChoices
from apps.exceptions.models import BusinessException

KIND_HEADLINES = {
    AlertKindChoices.AT_RISK: "At risk",
    AlertKindChoices.BREACHED: "SLA breached",
    AlertKindChoices.ESCALATION: "Escalation: SLA breached and still open",
}
# Subjects stay short: a header longer than a line is folded, and some readers then show it
# with a leading blank.
KIND_SUBJECTS = {
    AlertKindChoices.AT_RISK: "At risk",
    AlertKindChoices.BREACHED: "SLA breached",
    AlertKindChoices.ESCALATION: "Escalated",
}
# A digest lists at most this many exceptions; the rest are counted, not listed.
DIGEST_MAX_LINES = 200


@dataclass(frozen=True)
class AlertLine:
    """One exception, as an e-mail may show it."""

    exception_id: int
    kind: str
    headline: str
    code: str
    code_title: str
    team: str
    severity: str
    age: str
    due: str
    link: str


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def exception_link(exception_id: int) -> str:
    base = settings.HUBCONSOLE["BASE_URL"].rstrip("/")
    return base + reverse("console:exception_detail", args=[exception_id])


def duration_text(span: timedelta) -> str:
    """'2 d 3 h', '4 h 5 min', '12 min': how long, in words a duty manager reads at a glance."""
    minutes = max(0, int(span.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def _when(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


def alert_line(*, kind: str, exception: BusinessException, now: datetime) -> AlertLine:
    return AlertLine(
        exception_id=exception.pk,
        kind=kind,
        headline=KIND_HEADLINES[kind],
        code=exception.code_id,
        code_title=exception.code.title,
        team=exception.team.name,
        severity=exception.get_severity_display(),
        age=duration_text(now - exception.opened_at),
        due=_when(exception.due_at),
        link=exception_link(exception.pk),
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


def render_alert(line: AlertLine) -> RenderedEmail:
    context = {"line": line}
    return RenderedEmail(
        subject=_one_line(
            f"[HubConsole] {KIND_SUBJECTS[line.kind]}: {line.code} #{line.exception_id}"
        ),
        text=render_to_string("alerts/email/alert.txt", context),
        html=render_to_string("alerts/email/alert.html", context),
    )


def render_digest(*, team: str, lines: list[AlertLine]) -> RenderedEmail:
    total = len(lines)
    counts = {
        KIND_HEADLINES[kind]: sum(1 for line in lines if line.kind == kind)
        for kind in KIND_HEADLINES
    }
    context = {
        "team": team,
        "total": total,
        "counts": {label: count for label, count in counts.items() if count},
        "lines": lines[:DIGEST_MAX_LINES],
        "unlisted": max(0, total - DIGEST_MAX_LINES),
    }
    return RenderedEmail(
        subject=_one_line(f"[HubConsole] {total} SLA alerts for {team}"),
        text=render_to_string("alerts/email/digest.txt", context),
        html=render_to_string("alerts/email/digest.html", context),
    )
