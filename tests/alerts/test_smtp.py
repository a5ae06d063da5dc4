"""Alerts over real SMTP: an aiosmtpd listener on a free local port receives exactly the
expected messages, and a relay that is down costs retries, then a visible failure, never a
second e-mail."""

import pytest

from apps.alerts.choices import AlertStatusChoices
from apps.alerts.models import Alert
from apps.alerts.services import alerts_resend, alerts_scan, alerts_send
from tests.alerts.conftest import T0, at, open_exception, persona
from tests.alerts.smtp import Relay

S = AlertStatusChoices


@pytest.fixture
def relay(settings):
    relay = Relay()
    relay.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": relay.port, "timeout": 5},
        }
    }
    settings.DEFAULT_FROM_EMAIL = "hubconsole@hospital.example"
    settings.HUBCONSOLE = {
        **settings.HUBCONSOLE,
        "BASE_URL": "https://hubconsole.hospital.example",
        "ALERT_DIGEST_THRESHOLD": 10_000,
        "ALERT_MAX_ATTEMPTS": 3,
    }
    yield relay
    relay.stop()


@pytest.fixture
def breach_policy(make_policy):
    return make_policy(escalate_after_minutes=30, escalation_email="duty-manager@example.org")


def _body(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_smtp_listener_receives_one_message_per_breach_with_headers_and_link(relay, breach_policy):
    breached = open_exception(opened_at=T0, due_in=60, summary="PO-4711 for ACME")
    escalated = open_exception("OVER_RECEIPT", opened_at=T0, due_in=30)

    for minute in (60, 61, 62):
        alerts_scan(now=at(minute))
        alerts_send(now=at(minute))

    received = {message["Subject"]: (rcpt, message) for rcpt, message in relay.inbox.messages}
    assert set(received) == {
        f"[HubConsole] SLA breached: PRICE_VARIANCE #{breached.pk}",
        f"[HubConsole] SLA breached: OVER_RECEIPT #{escalated.pk}",
        f"[HubConsole] Escalated: OVER_RECEIPT #{escalated.pk}",
    }
    rcpt, message = received[f"[HubConsole] SLA breached: PRICE_VARIANCE #{breached.pk}"]
    assert rcpt == [breached.team.email]
    assert message["To"] == breached.team.email
    assert message["From"] == "hubconsole@hospital.example"
    assert message["Auto-Submitted"] == "auto-generated"
    body = _body(message)
    assert f"https://hubconsole.hospital.example/exceptions/{breached.pk}/" in body
    assert "PO-4711" not in body
    assert "ACME" not in body
    escalation_rcpt, _ = received[f"[HubConsole] Escalated: OVER_RECEIPT #{escalated.pk}"]
    assert escalation_rcpt == ["duty-manager@example.org"]
    assert Alert.objects.filter(status=S.SENT).count() == 3


def test_smtp_relay_down_retries_then_fails_and_never_sends_twice(relay, breach_policy):
    item = open_exception(opened_at=T0, due_in=60)
    alerts_scan(now=at(60))
    relay.stop()

    first = alerts_send(now=at(60))

    alert = Alert.objects.get(exception=item, kind="breached")
    assert first.retrying == 1
    assert (alert.status, alert.attempts) == (S.PENDING, 1)
    assert alert.last_error  # e.g. ConnectionRefusedError: [Errno 111] Connection refused

    alerts_send(now=alert.next_attempt_at)
    alert.refresh_from_db()
    assert (alert.status, alert.attempts) == (S.PENDING, 2)

    last = alerts_send(now=alert.next_attempt_at)
    alert.refresh_from_db()
    assert last.failed == 1
    assert (alert.status, alert.attempts) == (S.FAILED, 3)

    # The relay is back: a failed alert stays failed until someone resends it...
    relay.start()
    alerts_send(now=at(10_000))
    assert relay.inbox.messages == []

    # ...and then it goes out exactly once.
    admin = persona("root", None)
    admin.is_superuser = True
    admin.save()
    alerts_resend(alert_ids=[alert.pk], actor=admin)
    alerts_send()
    alerts_send()
    alerts_scan()
    alerts_send()
    breach_mails = [m for _, m in relay.inbox.messages if "SLA breached:" in m["Subject"]]
    assert len(breach_mails) == 1
    alert.refresh_from_db()
    assert alert.status == S.SENT


def test_smtp_digest_arrives_as_one_message_listing_every_link(relay, make_policy, settings):
    settings.HUBCONSOLE = {**settings.HUBCONSOLE, "ALERT_DIGEST_THRESHOLD": 5}
    make_policy()
    items = [open_exception(opened_at=T0, due_in=60) for _ in range(8)]

    alerts_scan(now=at(60))
    alerts_send(now=at(60))

    assert len(relay.inbox.messages) == 1
    rcpt, message = relay.inbox.messages[0]
    assert rcpt == [items[0].team.email]
    assert message["Subject"] == "[HubConsole] 8 SLA alerts for Accounts payable"
    body = _body(message)
    for item in items:
        assert f"https://hubconsole.hospital.example/exceptions/{item.pk}/" in body
