"""Models of SLA policies, business calendars, per-exception SLA clocks and the alert outbox."""

from zoneinfo import available_timezones

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from apps.alerts.choices import AlertKindChoices, AlertStatusChoices, WeekdayChoices
from apps.exceptions.choices import ExceptionCategoryChoices


def _validate_timezone(value: str) -> None:
    if value not in available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. America/New_York).")


class BusinessCalendar(models.Model):
    """When a team works: a time zone, opening hours per weekday and holidays.

    ``always_open`` makes it a 24/7 calendar (hours and holidays ignored), the clock of
    technical codes and of anything no policy covers.
    """

    name = models.CharField(max_length=100, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[_validate_timezone])
    always_open = models.BooleanField(
        default=False, help_text="24/7: every minute counts; opening hours and holidays ignored."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WorkingHours(models.Model):
    """Opening hours of one weekday of a calendar; a weekday without a row is closed."""

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(choices=WeekdayChoices.choices)
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering = ["calendar", "weekday"]
        verbose_name_plural = "working hours"
        constraints = [
            models.UniqueConstraint(fields=["calendar", "weekday"], name="hours_one_per_weekday"),
            # One interval a day, inside the day: overnight shifts are two calendars' business.
            models.CheckConstraint(condition=Q(opens__lt=F("closes")), name="hours_open_first"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"


class Holiday(models.Model):
    """A local date on which a calendar is closed all day."""

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField()
    name = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["calendar", "date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="holiday_once_per_date")
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name}".strip()


class SlaPolicy(models.Model):
    """How long an exception may stay open, on which clock, and whom to tell when it does not.

    Scope: one exception code, or one category (flow) of codes, or neither (the default);
    optionally narrowed to the exceptions of one team. The most specific active policy wins:
    code, then category, then default; at each level a team-specific policy beats one for any
    team. ``resolve_minutes`` empty means "the code's own sla_minutes, counted on this
    calendar".
    """

    name = models.CharField(max_length=100)
    code = models.ForeignKey(
        "exceptions.ExceptionCode",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="sla_policies",
    )
    category = models.CharField(
        max_length=30, choices=ExceptionCategoryChoices.choices, blank=True, default=""
    )
    team = models.ForeignKey(
        "exceptions.Team",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="sla_policies",
        help_text="Only exceptions owned by this team (empty: any team).",
    )
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.PROTECT, related_name="policies"
    )
    resolve_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Business minutes to resolve; empty: the code's SLA minutes on this calendar.",
    )
    at_risk_percent = models.PositiveSmallIntegerField(
        default=75, help_text="At risk once this share of the business time to resolve is used."
    )
    escalate_after_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Business minutes after the breach before escalating; empty: never.",
    )
    escalation_email = models.EmailField(blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(code__isnull=True) | Q(category=""), name="sla_policy_one_scope"
            ),
            models.CheckConstraint(
                condition=Q(at_risk_percent__gte=1, at_risk_percent__lte=99),
                name="sla_policy_at_risk_percent_range",
            ),
            # Precedence must never be a coin toss: one active policy per scope.
            models.UniqueConstraint(
                fields=["code", "category", "team"],
                condition=Q(active=True),
                nulls_distinct=False,
                name="sla_policy_one_active_per_scope",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def scope(self) -> str:
        if self.code_id:
            where = self.code_id
        elif self.category:
            where = self.get_category_display()
        else:
            where = "default"
        return f"{where} ({self.team})" if self.team_id else where

    def clean(self) -> None:
        if self.code_id and self.category:
            raise ValidationError("A policy covers one code or one category, not both.")
        if self.escalate_after_minutes is not None and not self.escalation_email:
            raise ValidationError({"escalation_email": "Escalation needs an address."})


class ExceptionSla(models.Model):
    """The SLA moments of one open exception, as the scan computed them on its policy's clock.

    Kept beside the exception rather than on it so screens can rank and filter by them in SQL
    (business-hours at-risk moments are not a linear share of opened..due). ``due_at`` is a
    copy of the exception's: when the two differ the row is stale and the scan recomputes it.
    """

    exception = models.OneToOneField(
        "exceptions.BusinessException",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="sla",
    )
    policy = models.ForeignKey(
        SlaPolicy, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    at_risk_at = models.DateTimeField()
    due_at = models.DateTimeField()
    escalate_at = models.DateTimeField(null=True, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = "exception SLA"
        # The scan's first filter: nothing can have fired before its at-risk moment.
        indexes = [models.Index(fields=["at_risk_at"], name="exception_sla_at_risk_idx")]

    def __str__(self) -> str:
        return f"SLA of exception {self.exception_id}"


class Alert(models.Model):
    """One e-mail to send, in the outbox. At most one per (exception, kind): that constraint,
    not the scan's care, is what makes "one e-mail per breach" hold under concurrent scans.

    Alerts folded into a digest point at it (``digest``) and share its fate. Bodies hold codes,
    teams, ages, SLA states and links only, never summaries, details or payloads.
    """

    kind = models.CharField(max_length=20, choices=AlertKindChoices.choices)
    exception = models.ForeignKey(
        "exceptions.BusinessException",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="alerts",
    )
    team = models.ForeignKey("exceptions.Team", on_delete=models.PROTECT, related_name="alerts")
    policy = models.ForeignKey(
        SlaPolicy, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    recipients = ArrayField(models.EmailField())
    # The SLA moment this alert is about (at-risk, due or escalation time).
    threshold_at = models.DateTimeField(null=True, blank=True)
    digest = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="members"
    )
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    status = models.CharField(
        max_length=20, choices=AlertStatusChoices.choices, default=AlertStatusChoices.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["exception", "kind"],
                condition=Q(exception__isnull=False),
                name="alert_once_per_exception_kind",
            ),
            models.CheckConstraint(
                condition=Q(kind=AlertKindChoices.DIGEST, exception__isnull=True)
                | (~Q(kind=AlertKindChoices.DIGEST) & Q(exception__isnull=False)),
                name="alert_digest_has_no_exception",
            ),
        ]
        indexes = [
            # The sender's claim: due pending alerts not folded into a digest.
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(status="pending", digest__isnull=True),
                name="alert_claim_idx",
            ),
            models.Index(fields=["team", "-created_at"], name="alert_team_history_idx"),
            models.Index(
                fields=["claimed_at"], condition=Q(status="sending"), name="alert_sending_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} alert {self.pk}"


class TeamMembership(models.Model):
    """A person belongs to an owning team: the console shows them that team's alerts."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships"
    )
    team = models.ForeignKey(
        "exceptions.Team", on_delete=models.CASCADE, related_name="memberships"
    )

    class Meta:
        ordering = ["team", "user"]
        constraints = [
            models.UniqueConstraint(fields=["user", "team"], name="team_membership_once")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"
