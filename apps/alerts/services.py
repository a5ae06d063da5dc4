"""SLA and alert services: due dates from policies, the SLA scan, and the alert outbox sender.

The scan and the sender meet only in the ``Alert`` table (an outbox, as in Healthchecks):

* ``alerts_scan`` (beat, every minute) computes each open exception's SLA moments on its
  policy's calendar, then inserts, in one set-based statement, one alert per exception and
  kind whose moment has come. The partial unique index ``alert_once_per_exception_kind`` is
  the conflict target of ``ON CONFLICT DO NOTHING``: however often and however concurrently
  the scan runs, an (exception, kind) pair gets one row. When more than
  ``ALERT_DIGEST_THRESHOLD`` alerts wait for one team and address list, they are folded into
  one digest row.
* ``alerts_send`` claims due pending rows with a conditional ``UPDATE … SET status='sending'
  … FOR UPDATE SKIP LOCKED … RETURNING`` committed before any SMTP traffic, so two workers
  never hold the same row. A row reaches ``sent`` once. Transient SMTP failures go back to
  ``pending`` with capped exponential backoff and jitter, up to ``ALERT_MAX_ATTEMPTS``; then
  ``failed``, visible in the console and the admin, where "resend" puts it back.
* A row left in ``sending`` by a worker that died mid-send is marked ``failed`` after
  ``SEND_LEASE``, never retried by itself: the message may have gone out, and we prefer a
  visible, resendable failure to a second e-mail.
"""

import json
import logging
import random
import smtplib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, time, timedelta
from time import monotonic

from celery import current_app
from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.core.mail import EmailMultiAlternatives, mailers
from django.core.mail.utils import DNS_NAME
from django.db import connection, transaction
from django.db.models import OuterRef, Q
from django.db.models.functions import JSONObject
from django.utils import timezone

from apps.alerts import emails
from apps.alerts.calendars import (
    ALWAYS_OPEN,
    ZERO,
    Calendar,
    add_business_minutes,
    add_business_time,
    business_time_between,
)
from apps.alerts.choices import AlertKindChoices, AlertStatusChoices
from apps.alerts.models import (
    Alert,
    BusinessCalendar,
    ExceptionSla,
    Holiday,
    SlaPolicy,
    WorkingHours,
)
from apps.core.errors import PermissionDenied
from apps.exceptions.models import ExceptionCode

logger = logging.getLogger(__name__)

K = AlertKindChoices
S = AlertStatusChoices

# When no policy applies: at risk once three quarters of the time is used.
DEFAULT_AT_RISK_PERCENT = 75
RESEND_PERMISSION = "alerts.change_alert"
# Scans overlap only if one runs longer than the beat interval; the second then has nothing
# to add and skips. (Single-key advisory locks; connectors use the two-key space.)
_SCAN_LOCK = 0x4855_4241_4C52  # "HUBALR"
# A sender task is killed by its hard time limit long before this; a row still "sending"
# after it belongs to a dead worker.
SEND_LEASE = timedelta(minutes=15)
# Claim this many alerts at a time, and stop claiming after this long (the task's soft time
# limit is higher), leaving the rest to the next run.
SEND_BATCH = 20
SEND_BUDGET_SECONDS = 150
_RETRY_CAP = timedelta(minutes=30)


# --- Policies, calendars and due dates --------------------------------------------------------


def _calendar(calendar: BusinessCalendar, hours: dict, holidays: frozenset) -> Calendar:
    try:
        return Calendar(
            timezone=calendar.timezone,
            hours=hours,
            holidays=holidays,
            always_open=calendar.always_open,
        )
    except (ValueError, KeyError) as error:  # KeyError: ZoneInfoNotFoundError
        # A half-configured calendar (no opening hours yet) must not stop exceptions from
        # opening: count around the clock until it is fixed, and say so.
        logger.warning("calendar %s is unusable (%s); counting it as 24/7", calendar.pk, error)
        return ALWAYS_OPEN


@dataclass(frozen=True)
class SlaBook:
    """The active policies and their calendars, loaded once for a batch of computations."""

    policies: tuple[SlaPolicy, ...]
    calendars: dict[int, Calendar]

    def policy_for(self, *, code: str, category: str, team_id: int | None) -> SlaPolicy | None:
        """The most specific policy: code, then category, then default; at each level one for
        the exception's team before one for any team."""
        best, best_rank = None, None
        for policy in self.policies:
            if policy.team_id is not None and policy.team_id != team_id:
                continue
            if policy.code_id:
                if policy.code_id != code:
                    continue
                level = 3
            elif policy.category:
                if policy.category != category:
                    continue
                level = 2
            else:
                level = 1
            rank = (level, policy.team_id is not None)
            if best_rank is None or rank > best_rank:
                best, best_rank = policy, rank
        return best

    def calendar_of(self, policy: SlaPolicy | None) -> Calendar:
        return ALWAYS_OPEN if policy is None else self.calendars[policy.calendar_id]


def sla_book() -> SlaBook:
    """Load the active policies with their calendars, opening hours and holidays: one query,
    so that opening a batch of exceptions stays a fixed number of round trips."""
    policies = tuple(
        SlaPolicy.objects.filter(active=True)
        .select_related("calendar")
        .annotate(
            calendar_hours=ArraySubquery(
                WorkingHours.objects.filter(calendar_id=OuterRef("calendar_id")).values(
                    json=JSONObject(weekday="weekday", opens="opens", closes="closes")
                )
            ),
            calendar_holidays=ArraySubquery(
                Holiday.objects.filter(calendar_id=OuterRef("calendar_id")).values("date")
            ),
        )
    )
    calendars = {}
    for policy in policies:
        if policy.calendar_id not in calendars:
            hours = {
                row["weekday"]: (
                    time.fromisoformat(row["opens"]),
                    time.fromisoformat(row["closes"]),
                )
                for row in map(_json, policy.calendar_hours)
            }
            calendars[policy.calendar_id] = _calendar(
                policy.calendar, hours, frozenset(policy.calendar_holidays)
            )
    return SlaBook(policies=policies, calendars=calendars)


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def sla_due_at(
    *,
    code: ExceptionCode | str,
    category: str | None = None,
    opened_at: datetime,
    team_id: int | None = None,
    book: SlaBook | None = None,
) -> datetime:
    """When an exception of ``code`` opened at ``opened_at`` is due.

    The most specific active policy decides the clock (its calendar) and the amount (its
    ``resolve_minutes``, or the code's ``sla_minutes`` when empty). Without any policy: the
    code's ``sla_minutes`` in plain elapsed minutes. ``team_id`` defaults to the code's owning
    team; pass ``book`` when computing many.
    """
    if isinstance(code, str):
        code = ExceptionCode.objects.get(pk=code)
    book = book or sla_book()
    policy = book.policy_for(
        code=code.code,
        category=category or code.category,
        team_id=code.owning_team_id if team_id is None else team_id,
    )
    if policy is None or policy.resolve_minutes is None:
        minutes = code.sla_minutes
    else:
        minutes = policy.resolve_minutes
    return add_business_minutes(opened_at, minutes, book.calendar_of(policy))


@dataclass(frozen=True)
class SlaMoments:
    policy_id: int | None
    at_risk_at: datetime
    due_at: datetime
    escalate_at: datetime | None


def sla_moments(
    *,
    book: SlaBook,
    code: str,
    category: str,
    team_id: int,
    opened_at: datetime,
    due_at: datetime,
) -> SlaMoments:
    """At-risk and escalation moments around an exception's due time, on its policy's clock.

    At risk when ``at_risk_percent`` of the *business* time from opening to due is used: with
    office hours, a Friday-evening exception due Tuesday is at risk on Monday, not on Sunday.
    """
    policy = book.policy_for(code=code, category=category, team_id=team_id)
    calendar = book.calendar_of(policy)
    percent = policy.at_risk_percent if policy else DEFAULT_AT_RISK_PERCENT
    allowed = max(business_time_between(opened_at, due_at, calendar), ZERO)
    at_risk_at = min(add_business_time(opened_at, allowed * percent / 100, calendar), due_at)
    escalate_at = None
    if policy and policy.escalate_after_minutes is not None and policy.escalation_email:
        escalate_at = add_business_minutes(due_at, policy.escalate_after_minutes, calendar)
    return SlaMoments(
        policy_id=policy.pk if policy else None,
        at_risk_at=at_risk_at,
        due_at=due_at,
        escalate_at=escalate_at,
    )


# --- The scan ---------------------------------------------------------------------------------

# Open exceptions whose SLA moments are missing or were computed for another due time.
_STALE_SQL = """
SELECT e.id, e.code_id, c.category, e.team_id, e.opened_at, e.due_at
FROM exceptions_businessexception e
JOIN exceptions_exceptioncode c ON c.code = e.code_id
LEFT JOIN alerts_exceptionsla s ON s.exception_id = e.id
WHERE e.status IN ('open', 'in_progress')
  AND (s.exception_id IS NULL OR s.due_at <> e.due_at)
  AND e.id > %(after)s
ORDER BY e.id
LIMIT %(limit)s
"""

# One row per (open exception, kind) whose moment has come. At risk only while not yet
# breached (a breach makes the warning moot); escalation only when the policy names someone.
# NOT EXISTS keeps the steady state cheap; the unique index is what guarantees "once".
_DETECT_SQL = """
INSERT INTO alerts_alert AS a (
    kind, exception_id, team_id, policy_id, recipients, threshold_at, digest_id, subject, body,
    status, attempts, next_attempt_at, claimed_at, last_error, created_at, sent_at
)
SELECT fired.kind, e.id, e.team_id, s.policy_id, fired.recipients, fired.threshold_at, NULL,
       '', '', 'pending', 0, %(now)s, NULL, '', %(now)s, NULL
FROM alerts_exceptionsla s
JOIN exceptions_businessexception e ON e.id = s.exception_id
JOIN exceptions_team t ON t.id = e.team_id
LEFT JOIN alerts_slapolicy p ON p.id = s.policy_id
CROSS JOIN LATERAL (
    VALUES
        ('at_risk', s.at_risk_at, ARRAY[t.email]::varchar[],
         s.at_risk_at <= %(now)s AND %(now)s < s.due_at),
        ('breached', s.due_at, ARRAY[t.email]::varchar[], s.due_at <= %(now)s),
        ('escalation', s.escalate_at, ARRAY[p.escalation_email]::varchar[],
         s.escalate_at <= %(now)s AND coalesce(p.escalation_email, '') <> '')
) AS fired(kind, threshold_at, recipients, due)
WHERE s.at_risk_at <= %(now)s
  AND e.status IN ('open', 'in_progress')
  AND e.held_at IS NULL  -- a person parked it on purpose: no alerts until released
  AND s.due_at = e.due_at
  AND fired.due
  AND NOT EXISTS (
      SELECT 1 FROM alerts_alert x WHERE x.exception_id = e.id AND x.kind = fired.kind
  )
ORDER BY e.id, fired.kind
ON CONFLICT (exception_id, kind) WHERE exception_id IS NOT NULL DO NOTHING
RETURNING a.id
"""

# Many alerts waiting for one team (and address list) become one digest. The waiting rows are
# locked (SKIP LOCKED: a sender claiming one right now keeps it), so each alert ends up either
# in the digest or sent alone, never both: the sender's claim re-checks digest_id IS NULL.
_FOLD_SQL = """
WITH waiting AS (
    SELECT id, team_id, recipients
    FROM alerts_alert
    WHERE status = 'pending' AND digest_id IS NULL AND kind <> 'digest'
    FOR UPDATE SKIP LOCKED
), crowded AS (
    SELECT team_id, recipients
    FROM waiting
    GROUP BY team_id, recipients
    HAVING count(*) > %(threshold)s
), digests AS (
    INSERT INTO alerts_alert (
        kind, exception_id, team_id, policy_id, recipients, threshold_at, digest_id, subject,
        body, status, attempts, next_attempt_at, claimed_at, last_error, created_at, sent_at
    )
    SELECT 'digest', NULL, team_id, NULL, recipients, NULL, NULL, '', '', 'pending', 0,
           %(now)s, NULL, '', %(now)s, NULL
    FROM crowded
    RETURNING id, team_id, recipients
)
UPDATE alerts_alert a
SET digest_id = d.id
FROM waiting w
JOIN digests d ON d.team_id = w.team_id AND d.recipients = w.recipients
WHERE a.id = w.id
RETURNING d.id
"""


@dataclass(frozen=True)
class ScanResult:
    skipped: bool = False
    clocks: int = 0  # exceptions whose SLA moments were (re)computed
    alerts: int = 0  # new alerts
    digests: int = 0
    folded: int = 0  # alerts folded into those digests

    def as_dict(self) -> dict:
        return asdict(self)


def sla_refresh(*, now: datetime, book: SlaBook | None = None, batch: int = 1000) -> int:
    """Compute the SLA moments of open exceptions that have none or stale ones. Returns how
    many. Calendar arithmetic is Python; reading and writing are set-based per batch."""
    book = book or sla_book()
    done, after = 0, 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(_STALE_SQL, {"after": after, "limit": batch})
            rows = cursor.fetchall()
        if not rows:
            return done
        clocks = []
        for exception_id, code, category, team_id, opened_at, due_at in rows:
            moments = sla_moments(
                book=book,
                code=code,
                category=category,
                team_id=team_id,
                opened_at=opened_at,
                due_at=due_at,
            )
            clocks.append(
                ExceptionSla(exception_id=exception_id, computed_at=now, **asdict(moments))
            )
        ExceptionSla.objects.bulk_create(
            clocks,
            update_conflicts=True,
            unique_fields=["exception"],
            update_fields=["policy", "at_risk_at", "due_at", "escalate_at", "computed_at"],
        )
        done += len(rows)
        after = rows[-1][0]
        if len(rows) < batch:
            return done


def alerts_detect(*, now: datetime) -> int:
    """Insert the alerts whose moment has come; returns how many are new."""
    with connection.cursor() as cursor:
        cursor.execute(_DETECT_SQL, {"now": now})
        return cursor.rowcount


def alerts_fold_digests(*, now: datetime, threshold: int | None = None) -> tuple[int, int]:
    """Fold crowds of pending alerts into digests; returns (digests, alerts folded)."""
    if threshold is None:
        threshold = settings.HUBCONSOLE["ALERT_DIGEST_THRESHOLD"]
    with connection.cursor() as cursor:
        cursor.execute(_FOLD_SQL, {"now": now, "threshold": threshold})
        digest_ids = [row[0] for row in cursor.fetchall()]
    return len(set(digest_ids)), len(digest_ids)


def alerts_scan(*, now: datetime | None = None) -> ScanResult:
    """The periodic scan: SLA moments, new alerts, digests. One transaction; rings the sender
    after commit when there is something to send."""
    now = now or timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_SCAN_LOCK])
            if not cursor.fetchone()[0]:
                return ScanResult(skipped=True)
        clocks = sla_refresh(now=now)
        new = alerts_detect(now=now)
        digests, folded = alerts_fold_digests(now=now)
        if new:
            transaction.on_commit(_ring_sender)
    if new or digests:
        logger.info("SLA scan: %d new alerts, %d in %d digests", new, folded, digests)
    return ScanResult(clocks=clocks, alerts=new, digests=digests, folded=folded)


def _ring_sender() -> None:
    try:
        current_app.send_task("alerts.send", retry=False)
    except Exception as error:
        # The outbox is in PostgreSQL; beat runs the sender every minute anyway.
        logger.warning("alert sender not rung (%s); the next scheduled run sends", error)


# --- The sender -------------------------------------------------------------------------------

# The locking SELECT is a CTE so it runs exactly once: as "id IN (SELECT … LIMIT n FOR UPDATE
# SKIP LOCKED)" PostgreSQL may re-run the subquery per outer row, and every run locks n more.
_CLAIM_SQL = """
WITH claimable AS (
    SELECT id FROM alerts_alert
    WHERE status = 'pending' AND digest_id IS NULL AND next_attempt_at <= %(now)s
    ORDER BY next_attempt_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE alerts_alert a
SET status = 'sending', attempts = a.attempts + 1, claimed_at = %(now)s
FROM claimable
WHERE a.id = claimable.id AND a.status = 'pending' AND a.digest_id IS NULL
RETURNING a.id
"""

_INTERRUPTED = "Interrupted while sending; it may or may not have gone out. Resend if needed."


@dataclass
class SendResult:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0
    interrupted: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def alerts_send(*, now: datetime | None = None, batch: int = SEND_BATCH) -> SendResult:
    """Send due pending alerts, each at most once. ``now`` is for tests that move the clock."""
    clock = (lambda: now) if now is not None else timezone.now
    result = SendResult(interrupted=_alerts_release_interrupted(now=clock()))
    deadline = monotonic() + SEND_BUDGET_SECONDS
    while monotonic() < deadline:
        claimed = _alerts_claim(now=clock(), limit=batch)
        if not claimed:
            break
        for alert_id in claimed:
            outcome = _alert_deliver(alert_id=alert_id, now=clock())
            setattr(result, outcome, getattr(result, outcome) + 1)
    return result


def _alerts_claim(*, now: datetime, limit: int) -> list[int]:
    # Committed on its own before any SMTP traffic: from here on the rows are ours alone.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, {"now": now, "limit": limit})
        return sorted(row[0] for row in cursor.fetchall())


@transaction.atomic
def _alerts_release_interrupted(*, now: datetime) -> int:
    stale = list(
        Alert.objects.select_for_update(skip_locked=True)
        .filter(status=S.SENDING, claimed_at__lt=now - SEND_LEASE)
        .values_list("id", flat=True)
    )
    if not stale:
        return 0
    Alert.objects.filter(Q(pk__in=stale) | Q(digest_id__in=stale)).update(
        status=S.FAILED, claimed_at=None, last_error=_INTERRUPTED
    )
    logger.warning("alerts %s were interrupted while sending; marked failed", stale)
    return len(stale)


def _alert_deliver(*, alert_id: int, now: datetime) -> str:
    """Send one claimed alert and record the outcome; returns the SendResult field to count."""
    alert = Alert.objects.select_related("exception__code", "exception__team", "team").get(
        pk=alert_id
    )
    if alert.kind != K.DIGEST and not alert.exception.is_open:
        _finish(alert, status=S.CANCELLED, last_error="The exception was closed first.")
        return "cancelled"
    try:
        rendered = _render(alert, now=now)
        message = EmailMultiAlternatives(
            subject=rendered.subject,
            body=rendered.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=list(alert.recipients),
            headers={
                # Stable per alert, so a mail system that ever saw it twice can tell.
                "Message-ID": f"<hubconsole.alert.{alert.pk}@{DNS_NAME}>",
                "Auto-Submitted": "auto-generated",
                "X-HubConsole-Alert": f"{alert.kind}:{alert.pk}",
            },
        )
        message.attach_alternative(rendered.html, "text/html")
        if mailers.default.send_messages([message]) != 1:
            raise smtplib.SMTPRecipientsRefused({})
    except Exception as error:
        return _failed(alert, error=error, now=now)
    _finish(alert, status=S.SENT, sent_at=now, subject=rendered.subject, body=rendered.text)
    return "sent"


def _render(alert: Alert, *, now: datetime) -> emails.RenderedEmail:
    if alert.kind != K.DIGEST:
        return emails.render_alert(
            emails.alert_line(kind=alert.kind, exception=alert.exception, now=now)
        )
    members = (
        Alert.objects.filter(digest=alert)
        .select_related("exception__code", "exception__team")
        .order_by("exception__due_at", "id")
    )
    lines = [emails.alert_line(kind=m.kind, exception=m.exception, now=now) for m in members]
    return emails.render_digest(team=alert.team.name, lines=lines)


def _finish(alert: Alert, *, status: str, **fields) -> None:
    with transaction.atomic():
        Alert.objects.filter(pk=alert.pk, status=S.SENDING).update(
            status=status, claimed_at=None, **fields
        )
        if alert.kind == K.DIGEST:
            # Members share their digest's fate: sent with it, or failed with it.
            Alert.objects.filter(digest=alert).update(status=status, sent_at=fields.get("sent_at"))


def _permanent(error: Exception) -> bool:
    """Whether the relay refused for good (5xx, other than authentication: a credentials fix
    on our side is worth waiting for). Connection trouble and 4xx are worth a retry."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return all(500 <= code < 600 for code in codes)
    if isinstance(error, smtplib.SMTPResponseException):
        return 500 <= error.smtp_code < 600 and error.smtp_code not in (530, 534, 535)
    return False


def _failed(alert: Alert, *, error: Exception, now: datetime) -> str:
    text = f"{type(error).__name__}: {error}"[:300]
    limit = settings.HUBCONSOLE["ALERT_MAX_ATTEMPTS"]
    if _permanent(error) or alert.attempts >= limit:
        _finish(alert, status=S.FAILED, last_error=text)
        logger.warning("alert %s failed after %d attempts: %s", alert.pk, alert.attempts, text)
        return "failed"
    base = timedelta(seconds=settings.HUBCONSOLE["ALERT_RETRY_SECONDS"])
    delay = min(_RETRY_CAP, base * 2 ** (alert.attempts - 1)) * random.uniform(0.8, 1.2)
    Alert.objects.filter(pk=alert.pk, status=S.SENDING).update(
        status=S.PENDING, claimed_at=None, next_attempt_at=now + delay, last_error=text
    )
    logger.info("alert %s will retry in %s: %s", alert.pk, delay, text)
    return "retrying"


@transaction.atomic
def alerts_resend(*, alert_ids: Iterable[int], actor) -> int:
    """Put failed alerts back in the outbox (a member of a digest goes with its digest).
    Returns how many will be sent again."""
    if actor is None or not actor.has_perm(RESEND_PERMISSION):
        raise PermissionDenied()
    chosen = Alert.objects.filter(pk__in=list(alert_ids))
    digests = chosen.filter(digest__isnull=False).values("digest_id")
    targets = list(
        Alert.objects.select_for_update()
        .filter(Q(pk__in=chosen.filter(digest__isnull=True).values("pk")) | Q(pk__in=digests))
        .filter(status=S.FAILED)
        .values_list("id", flat=True)
    )
    if not targets:
        return 0
    Alert.objects.filter(pk__in=targets).update(
        status=S.PENDING, attempts=0, next_attempt_at=timezone.now(), claimed_at=None, last_error=""
    )
    Alert.objects.filter(digest_id__in=targets).update(status=S.PENDING)
    logger.info("alerts %s put back in the outbox by %s", targets, actor)
    transaction.on_commit(_ring_sender)
    return len(targets)
