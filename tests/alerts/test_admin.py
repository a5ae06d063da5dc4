"""Administration: calendars with their hours and holidays, policies, the read-only outbox
and its one action, "resend failed alerts"."""

import pytest
from django.urls import reverse

from apps.accounts import roles
from apps.alerts.choices import AlertStatusChoices
from apps.alerts.models import Alert, BusinessCalendar, SlaPolicy
from apps.alerts.services import alerts_scan
from tests.alerts.conftest import T0, at, open_exception, persona

S = AlertStatusChoices


@pytest.fixture
def admin_client(client, db):
    client.force_login(persona("root", roles.ADMIN))
    return client


@pytest.fixture
def failed_alert(make_policy, settings):
    settings.HUBCONSOLE = {**settings.HUBCONSOLE, "ALERT_DIGEST_THRESHOLD": 10_000}
    make_policy()
    item = open_exception(opened_at=T0, due_in=60)
    alerts_scan(now=at(60))
    Alert.objects.filter(exception=item).update(status=S.FAILED, attempts=5, last_error="boom")
    return Alert.objects.get(exception=item)


def test_admin_pages_of_calendars_policies_and_alerts_open(admin_client, failed_alert):
    calendar = BusinessCalendar.objects.first()
    for url in (
        reverse("admin:alerts_businesscalendar_changelist"),
        reverse("admin:alerts_businesscalendar_add"),
        reverse("admin:alerts_businesscalendar_change", args=[calendar.pk]),
        reverse("admin:alerts_slapolicy_changelist"),
        reverse("admin:alerts_slapolicy_add"),
        reverse("admin:alerts_alert_changelist"),
        reverse("admin:alerts_alert_change", args=[failed_alert.pk]),
        reverse("admin:alerts_exceptionsla_changelist"),
        reverse("admin:alerts_teammembership_changelist"),
    ):
        assert admin_client.get(url).status_code == 200, url


def test_admin_calendar_is_saved_with_hours_and_holidays_inline(admin_client):
    response = admin_client.post(
        reverse("admin:alerts_businesscalendar_add"),
        {
            "name": "Berlin office",
            "timezone": "Europe/Berlin",
            "hours-TOTAL_FORMS": "1",
            "hours-INITIAL_FORMS": "0",
            "hours-0-weekday": "1",
            "hours-0-opens": "08:00",
            "hours-0-closes": "16:00",
            "holidays-TOTAL_FORMS": "1",
            "holidays-INITIAL_FORMS": "0",
            "holidays-0-date": "2025-12-25",
            "holidays-0-name": "Christmas",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    calendar = BusinessCalendar.objects.get(name="Berlin office")
    assert [(h.weekday, h.opens.hour, h.closes.hour) for h in calendar.hours.all()] == [(1, 8, 16)]
    assert [str(h.date) for h in calendar.holidays.all()] == ["2025-12-25"]


def test_admin_calendar_refuses_an_unknown_time_zone(admin_client):
    response = admin_client.post(
        reverse("admin:alerts_businesscalendar_add"),
        {
            "name": "Nowhere",
            "timezone": "Mars/Olympus_Mons",
            "hours-TOTAL_FORMS": "0",
            "hours-INITIAL_FORMS": "0",
            "holidays-TOTAL_FORMS": "0",
            "holidays-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    assert not BusinessCalendar.objects.filter(name="Nowhere").exists()


def test_admin_policy_needs_an_address_to_escalate(admin_client, no_policies, around_the_clock):
    response = admin_client.post(
        reverse("admin:alerts_slapolicy_add"),
        {
            "name": "Escalates to nobody",
            "calendar": around_the_clock.pk,
            "at_risk_percent": "75",
            "escalate_after_minutes": "30",
            "escalation_email": "",
            "active": "on",
        },
    )

    assert response.status_code == 200
    assert not SlaPolicy.objects.exists()


def test_admin_resend_failed_alerts_action(admin_client, failed_alert):
    response = admin_client.post(
        reverse("admin:alerts_alert_changelist"),
        {"action": "resend_failed", "_selected_action": [failed_alert.pk]},
    )

    assert response.status_code == 302
    failed_alert.refresh_from_db()
    assert (failed_alert.status, failed_alert.attempts, failed_alert.last_error) == (
        S.PENDING,
        0,
        "",
    )


def test_admin_outbox_is_read_only_and_the_action_needs_change_permission(client, failed_alert):
    auditor = persona("frank", roles.AUDITOR)
    client.force_login(auditor)

    # The auditor role does not include the alerts app: no admin page for it at all.
    assert client.get(reverse("admin:alerts_alert_changelist")).status_code == 403
    response = client.post(
        reverse("admin:alerts_alert_changelist"),
        {"action": "resend_failed", "_selected_action": [failed_alert.pk]},
    )
    assert response.status_code == 403
    failed_alert.refresh_from_db()
    assert failed_alert.status == S.FAILED
