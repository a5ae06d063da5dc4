"""The starting business calendars and SLA policies, created once by a data migration.

IT operations work around the clock: technical codes keep their catalogue SLA on a 24/7 clock,
at risk at half time, escalated an hour after a breach. AP, supply chain and stewards work
weekday office hours (in HUBCONSOLE_TIME_ZONE when migrated): their policies count business
time. Those business-hours policies are created *inactive*: switching them on changes every
new due date of those teams (and the catalogue-minute expectations of tests/exceptions), so an
administrator turns them on, with the holidays of their site added to the calendar first.

``seed_defaults`` takes an apps registry so the migration runs it on historical models and a
test can run it on the live ones. It only adds what is missing, by name.
"""

from dataclasses import dataclass
from datetime import time

from django.conf import settings

from apps.exceptions.catalogue import TEAMS

ALWAYS = "24/7"
OFFICE = "Weekdays 08:00-17:00"
BUSINESS_DAY = 9 * 60  # business minutes in one office day


@dataclass(frozen=True)
class PolicySeed:
    name: str
    calendar: str
    category: str = ""
    team: str = ""
    resolve_minutes: int | None = None
    at_risk_percent: int = 75
    escalate_after_minutes: int | None = None
    escalation_email: str = ""
    active: bool = True


POLICIES = (
    PolicySeed("Default: the code's SLA, around the clock", ALWAYS),
    PolicySeed(
        "Technical (IT operations): around the clock",
        ALWAYS,
        category="technical",
        at_risk_percent=50,
        escalate_after_minutes=60,
        escalation_email="integration-oncall@example.org",
    ),
    PolicySeed(
        "Procure-to-pay (accounts payable): 2 business days",
        OFFICE,
        category="procure_to_pay",
        resolve_minutes=2 * BUSINESS_DAY,
        escalate_after_minutes=BUSINESS_DAY,
        escalation_email="ap-lead@example.org",
        active=False,
    ),
    PolicySeed(
        "Procure-to-pay (supply chain): 1 business day",
        OFFICE,
        category="procure_to_pay",
        team="supply_chain",
        resolve_minutes=BUSINESS_DAY,
        escalate_after_minutes=BUSINESS_DAY,
        escalation_email="supply-chain-lead@example.org",
        active=False,
    ),
    PolicySeed(
        "Master data (stewards): 1 business day",
        OFFICE,
        category="master_data",
        resolve_minutes=BUSINESS_DAY,
        escalate_after_minutes=BUSINESS_DAY,
        escalation_email="master-data-lead@example.org",
        active=False,
    ),
)


def seed_defaults(apps) -> tuple[int, int]:
    """Create the seed calendars and policies that do not exist yet (by name). Returns
    (calendars created, policies created)."""
    BusinessCalendar = apps.get_model("alerts", "BusinessCalendar")
    WorkingHours = apps.get_model("alerts", "WorkingHours")
    SlaPolicy = apps.get_model("alerts", "SlaPolicy")
    Team = apps.get_model("exceptions", "Team")

    always, made_always = BusinessCalendar.objects.get_or_create(
        name=ALWAYS, defaults={"timezone": "UTC", "always_open": True}
    )
    office, made_office = BusinessCalendar.objects.get_or_create(
        name=OFFICE, defaults={"timezone": settings.TIME_ZONE, "always_open": False}
    )
    if made_office:
        WorkingHours.objects.bulk_create(
            WorkingHours(calendar=office, weekday=day, opens=time(8), closes=time(17))
            for day in range(1, 6)
        )
    calendars = {ALWAYS: always, OFFICE: office}
    # Teams come from the catalogue sync after migrate; a policy for a team needs it now.
    teams = {seed.slug: seed for seed in TEAMS}
    created = 0
    for seed in POLICIES:
        if SlaPolicy.objects.filter(name=seed.name).exists():
            continue
        team = None
        if seed.team:
            team, _ = Team.objects.get_or_create(
                slug=seed.team,
                defaults={"name": teams[seed.team].name, "email": teams[seed.team].email},
            )
        SlaPolicy.objects.create(
            name=seed.name,
            calendar=calendars[seed.calendar],
            category=seed.category,
            team=team,
            resolve_minutes=seed.resolve_minutes,
            at_risk_percent=seed.at_risk_percent,
            escalate_after_minutes=seed.escalate_after_minutes,
            escalation_email=seed.escalation_email,
            active=seed.active,
        )
        created += 1
    return made_always + made_office, created
