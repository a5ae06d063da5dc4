"""The start page: my queue, my teams' open exceptions by code, age and SLA, recent activity."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.alerts.models import TeamMembership
from apps.exceptions.models import BusinessException
from apps.exceptions.services import ExceptionSpec, exception_assign, exceptions_open

pytestmark = pytest.mark.django_db


@pytest.fixture
def work(ap_analyst):
    ids = exceptions_open(
        [
            ExceptionSpec(code="PRICE_VARIANCE", summary="a", root_cause_key="invoice:S:1"),
            ExceptionSpec(code="PRICE_VARIANCE", summary="b", root_cause_key="invoice:S:2"),
            ExceptionSpec(code="TARGET_UNAVAILABLE", summary="c", root_cause_key="conn:x"),
        ]
    )
    now = timezone.now()
    BusinessException.objects.filter(pk=ids[0]).update(
        opened_at=now - datetime.timedelta(days=5), due_at=now - datetime.timedelta(days=1)
    )
    exception_assign(exception_id=ids[1], assignee=ap_analyst, actor=ap_analyst)
    return ids


def test_my_queue_and_my_teams_counts(client, ap_analyst, work):
    ap = BusinessException.objects.get(pk=work[0]).team
    TeamMembership.objects.create(user=ap_analyst, team=ap)
    client.force_login(ap_analyst)

    context = client.get(reverse("console:home")).context
    mine = context["work"]

    assert [item.pk for item in mine["mine"]] == [work[1]]
    assert mine["total"] == 2  # the IT ops exception is another team's
    assert mine["breached"] == 1
    assert dict(mine["ages"]) == {
        "under 1 hour": 1,
        "1 to 24 hours": 0,
        "1 to 3 days": 0,
        "over 3 days": 1,
    }
    assert [(row["code_id"], row["count"], row["breached"]) for row in mine["by_code"]] == [
        ("PRICE_VARIANCE", 2, 1)
    ]
    assert mine["activity"][0].kind == "assigned"


def test_people_in_no_team_see_every_team(client, engineer, work):
    client.force_login(engineer)
    page = client.get(reverse("console:home"))
    assert page.context["work"]["total"] == 3
    assert b"All open exceptions: 3" in page.content


def test_the_fragment_refresh_carries_the_panels(client, engineer, work):
    client.force_login(engineer)
    fragment = client.get(reverse("console:home"), headers={"HX-Request": "true"}).content
    assert b"My queue" in fragment
    assert b"<html" not in fragment
