"""The alert history screen: each role sees its teams' alerts, administrators all."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from apps.accounts import roles
from apps.alerts.models import Alert
from apps.alerts.services import alerts_scan
from tests.alerts.conftest import T0, at, open_exception, persona


@pytest.fixture
def alerts(make_policy, settings):
    """One breached-alert for accounts payable, one for supply chain, one for integration."""
    settings.HUBCONSOLE = {**settings.HUBCONSOLE, "ALERT_DIGEST_THRESHOLD": 10_000}
    make_policy()
    items = {
        slug: open_exception(code, opened_at=T0, due_in=60, summary=f"{slug} PO-4711")
        for slug, code in (
            ("accounts_payable", "PRICE_VARIANCE"),
            ("supply_chain", "OVER_RECEIPT"),
            ("integration", "PARSE_ERROR"),
        )
    }
    alerts_scan(now=at(60))
    return {slug: Alert.objects.get(exception=item) for slug, item in items.items()}


def _shown(client) -> set[int]:
    response = client.get(reverse("alerts:alert_list"))
    assert response.status_code == 200
    return {alert.pk for alert in response.context["page"].rows}


def test_alert_list_anonymous_is_sent_to_sign_in(client, alerts):
    response = client.get(reverse("alerts:alert_list"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_alert_list_refuses_a_user_without_a_role(client, alerts):
    client.force_login(persona("mallory", None, "accounts_payable"))

    assert client.get(reverse("alerts:alert_list")).status_code == 403


@pytest.mark.parametrize(
    "role", [roles.VIEWER, roles.AP_ANALYST, roles.DATA_STEWARD, roles.AUDITOR]
)
def test_alert_list_a_console_role_sees_its_teams_alerts_only(client, alerts, role):
    client.force_login(persona("alice", role, "accounts_payable"))

    assert _shown(client) == {alerts["accounts_payable"].pk}


def test_alert_list_several_teams_and_no_team(client, alerts):
    client.force_login(persona("bob", roles.AP_ANALYST, "accounts_payable", "supply_chain"))
    assert _shown(client) == {alerts["accounts_payable"].pk, alerts["supply_chain"].pk}

    client.force_login(persona("carol", roles.VIEWER))
    assert _shown(client) == set()


def test_alert_list_administrators_see_every_team(client, alerts):
    admin = persona("root", roles.ADMIN)
    assert (
        Group.objects.get(name=roles.ADMIN.name).permissions.filter(codename="view_alert").exists()
    )
    client.force_login(admin)

    assert _shown(client) == {alert.pk for alert in alerts.values()}


def test_alert_list_page_and_fragment_without_summaries(client, alerts):
    client.force_login(persona("alice", roles.AP_ANALYST, "accounts_payable"))
    url = reverse("alerts:alert_list")

    page = client.get(url)
    fragment = client.get(url, {"status": "pending"}, headers={"HX-Request": "true"})

    assert b"<html" in page.content
    assert b"<html" not in fragment.content
    assert "HX-Request" in fragment["Vary"]
    for response in (page, fragment):
        text = response.content.decode()
        assert "PRICE_VARIANCE" in text
        assert f"/exceptions/{alerts['accounts_payable'].exception_id}/" in text
        assert "PO-4711" not in text
    assert client.get(url, {"status": "sent"}).context["page"].rows == []
