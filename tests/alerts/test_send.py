"""The alert sender, read through Django's mail outbox: one e-mail per breach, digests for
crowds, nothing but codes and links in them, retries bounded, never twice."""

import smtplib
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection

from apps.accounts import roles
from apps.alerts.choices import AlertKindChoices, AlertStatusChoices
from apps.alerts.models import Alert
from apps.alerts.services import (
    SEND_LEASE,
    _alerts_claim,
    alerts_resend,
    alerts_scan,
    alerts_send,
)
from apps.core.errors import PermissionDenied
from apps.exceptions.models import BusinessException
from tests.alerts.backends import RefusingBackend
from tests.alerts.conftest import T0, at, open_exception, persona

K = AlertKindChoices
S = AlertStatusChoices
SECRET_SUMMARY = "Invoice 88123 for patient MRN 000123 at ACME"
SECRET_DETAIL = "DOB 1970-01-01"


@pytest.fixture
def breach_policy(make_policy):
    return make_policy(
        at_risk_percent=75, escalate_after_minutes=30, escalation_email="duty-manager@example.org"
    )


@pytest.fixture
def no_digests(settings):
    settings.HUBCONSOLE = {**settings.HUBCONSOLE, "ALERT_DIGEST_THRESHOLD": 10_000}


@pytest.fixture
def refusing_relay(settings):
    RefusingBackend.attempts = 0
    RefusingBackend.error = smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
    settings.MAILERS = {"default": {"BACKEND": "tests.alerts.backends.RefusingBackend"}}
    settings.HUBCONSOLE = {
        **settings.HUBCONSOLE,
        "ALERT_MAX_ATTEMPTS": 3,
        "ALERT_RETRY_SECONDS": 60,
    }
    return RefusingBackend


def _link(item) -> str:
    return f"http://testserver.example/exceptions/{item.pk}/"


@pytest.fixture(autouse=True)
def _base_url(settings):
    settings.HUBCONSOLE = {**settings.HUBCONSOLE, "BASE_URL": "http://testserver.example/"}


def _texts(message) -> list[str]:
    return [message.subject, message.body, *(content for content, _ in message.alternatives)]


def test_send_one_email_per_breach_however_often_scan_and_send_run(breach_policy):
    item = open_exception(opened_at=T0, due_in=60, summary=SECRET_SUMMARY)

    for minute in (60, 61, 62):
        alerts_scan(now=at(minute))
        alerts_send(now=at(minute))
        alerts_send(now=at(minute))

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [item.team.email]
    assert message.subject == f"[HubConsole] SLA breached: PRICE_VARIANCE #{item.pk}"
    assert _link(item) in message.body
    assert f'href="{_link(item)}"' in message.alternatives[0][0]
    assert message.extra_headers["X-HubConsole-Alert"].startswith("breached:")
    alert = Alert.objects.get(exception=item)
    assert (alert.status, alert.attempts, alert.sent_at) == (S.SENT, 1, at(60))
    assert alert.subject == message.subject
    assert alert.body == message.body


def test_send_at_risk_breach_and_escalation_each_once_to_their_addresses(breach_policy):
    item = open_exception(opened_at=T0, due_in=60)

    for minute in range(0, 120, 5):
        alerts_scan(now=at(minute))
        alerts_send(now=at(minute))

    assert [(m.subject.split(":")[0], m.to) for m in mail.outbox] == [
        ("[HubConsole] At risk", [item.team.email]),
        ("[HubConsole] SLA breached", [item.team.email]),
        ("[HubConsole] Escalated", ["duty-manager@example.org"]),
    ]
    for message in mail.outbox:
        assert _link(item) in message.body


def test_send_email_names_code_team_age_and_link_but_no_summary_details_or_payload(
    breach_policy,
):
    item = open_exception(
        opened_at=T0, due_in=60, summary=SECRET_SUMMARY, details={"patient": SECRET_DETAIL}
    )

    alerts_scan(now=at(150))
    alerts_send(now=at(150))

    assert len(mail.outbox) == 2  # breached and escalated (at risk is moot)
    for message in mail.outbox:
        text = "\n".join(_texts(message))
        assert "PRICE_VARIANCE" in text
        assert item.team.name in text
        assert "2 h 30 min" in text  # age
        assert _link(item) in text
        for secret in ("88123", "MRN", "000123", "ACME", SECRET_DETAIL, "patient"):
            assert secret not in text


def test_send_a_crowd_goes_out_as_one_digest_listing_links(make_policy, settings):
    settings.HUBCONSOLE = {**settings.HUBCONSOLE, "ALERT_DIGEST_THRESHOLD": 3}
    make_policy()
    items = [open_exception(opened_at=T0, due_in=60 + n, summary=SECRET_SUMMARY) for n in range(12)]
    other_team = open_exception("OVER_RECEIPT", opened_at=T0, due_in=60)

    alerts_scan(now=at(100))
    result = alerts_send(now=at(100))

    assert result.sent == 2  # the digest, and supply chain's single alert
    digest_mail, single = sorted(mail.outbox, key=lambda m: "SLA alerts" not in m.subject)
    assert digest_mail.subject == "[HubConsole] 12 SLA alerts for Accounts payable"
    assert digest_mail.to == [items[0].team.email]
    for item in items:
        assert _link(item) in digest_mail.body
        assert f'href="{_link(item)}"' in digest_mail.alternatives[0][0]
    assert "SLA breached: 12" in digest_mail.body
    assert SECRET_SUMMARY not in "\n".join(_texts(digest_mail))
    assert single.to == [other_team.team.email]
    digest = Alert.objects.get(kind=K.DIGEST)
    assert digest.status == S.SENT
    assert set(digest.members.values_list("status", "sent_at")) == {(S.SENT, at(100))}
    # Nothing more goes out afterwards, digest or single.
    alerts_scan(now=at(101))
    alerts_send(now=at(101))
    assert len(mail.outbox) == 2


def test_send_an_exception_closed_before_its_alert_went_out_is_cancelled(breach_policy):
    item = open_exception(opened_at=T0, due_in=60)
    alerts_scan(now=at(60))
    BusinessException.objects.filter(pk=item.pk).update(status="resolved", resolved_at=at(61))

    result = alerts_send(now=at(62))

    assert result.cancelled == 1
    assert mail.outbox == []
    assert Alert.objects.get(exception=item).status == S.CANCELLED


def test_send_transient_failures_retry_with_growing_delay_then_fail(
    breach_policy, no_digests, refusing_relay
):
    item = open_exception(opened_at=T0, due_in=60)
    alerts_scan(now=at(60))
    alert = Alert.objects.get(exception=item)

    assert alerts_send(now=at(60)).retrying == 1
    alert.refresh_from_db()
    assert (alert.status, alert.attempts) == (S.PENDING, 1)
    assert at(60) + timedelta(seconds=48) <= alert.next_attempt_at <= at(60) + timedelta(seconds=72)
    assert "SMTPServerDisconnected" in alert.last_error
    assert alerts_send(now=at(60.5)).retrying == 0  # not due yet: no attempt at all
    assert refusing_relay.attempts == 1

    first_retry = alert.next_attempt_at
    alerts_send(now=first_retry)
    alert.refresh_from_db()
    assert alert.attempts == 2
    assert alert.next_attempt_at - first_retry >= timedelta(seconds=96)  # doubled, minus jitter

    assert alerts_send(now=alert.next_attempt_at).failed == 1
    alert.refresh_from_db()
    assert (alert.status, alert.attempts) == (S.FAILED, 3)
    assert alerts_send(now=at(10_000)).as_dict() == {
        "sent": 0,
        "retrying": 0,
        "failed": 0,
        "cancelled": 0,
        "interrupted": 0,
    }
    assert refusing_relay.attempts == 3


def test_send_a_permanent_refusal_fails_at_once(breach_policy, no_digests, refusing_relay):
    refusing_relay.error = smtplib.SMTPRecipientsRefused({"ap@example.org": (550, b"No such user")})
    item = open_exception(opened_at=T0, due_in=60)
    alerts_scan(now=at(60))

    assert alerts_send(now=at(60)).failed == 1
    assert Alert.objects.get(exception=item).attempts == 1


def test_send_failed_alerts_go_out_once_when_resent(
    breach_policy, no_digests, refusing_relay, settings
):
    admin = persona("root", None)
    admin.is_superuser = True
    admin.save()
    item = open_exception(opened_at=T0, due_in=60)
    alerts_scan(now=at(60))
    refusing_relay.error = smtplib.SMTPRecipientsRefused({"ap@example.org": (550, b"No")})
    alerts_send(now=at(60))
    alert = Alert.objects.get(exception=item)
    assert alert.status == S.FAILED
    # The relay is fixed.
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    assert alerts_resend(alert_ids=[alert.pk], actor=admin) == 1
    assert alerts_resend(alert_ids=[alert.pk], actor=admin) == 0  # pending: nothing to resend
    alerts_send()
    alerts_send()

    alert.refresh_from_db()
    assert (alert.status, alert.attempts, alert.last_error) == (S.SENT, 1, "")
    assert len(mail.outbox) == 1


def test_send_resend_needs_the_permission(breach_policy, no_digests):
    analyst = persona("alice", roles.AP_ANALYST)

    with pytest.raises(PermissionDenied):
        alerts_resend(alert_ids=[], actor=analyst)


def test_send_a_worker_that_died_mid_send_leaves_a_failure_not_a_second_email(
    breach_policy, no_digests
):
    item = open_exception(opened_at=T0, due_in=60)
    alerts_scan(now=at(60))
    # A worker claimed it and vanished (killed between the claim and the outcome).
    Alert.objects.filter(exception=item).update(status=S.SENDING, attempts=1, claimed_at=at(60))

    assert alerts_send(now=at(61)).interrupted == 0  # within the lease: may still be sending
    result = alerts_send(now=at(60) + SEND_LEASE + timedelta(seconds=1))

    assert result.interrupted == 1
    assert mail.outbox == []
    alert = Alert.objects.get(exception=item)
    assert alert.status == S.FAILED
    assert "Interrupted" in alert.last_error


@pytest.mark.django_db(transaction=True)
def test_send_two_workers_at_once_send_each_alert_once(breach_policy, no_digests, settings):
    settings.MAILERS = {"default": {"BACKEND": "tests.alerts.backends.SlowBackend"}}
    items = [open_exception(opened_at=T0, due_in=60) for _ in range(30)]
    alerts_scan(now=at(60))
    start = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            start.wait()
            results.append(alerts_send(now=at(60), batch=3))
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert not errors, errors
    sent_ids = [m.extra_headers["X-HubConsole-Alert"] for m in mail.outbox]
    assert len(sent_ids) == len(set(sent_ids)) == 30
    assert sum(r.sent for r in results) == 30
    assert all(r.sent > 0 for r in results), results
    assert set(Alert.objects.filter(exception__in=items).values_list("status", flat=True)) == {
        S.SENT
    }


def test_send_a_claim_takes_at_most_one_batch(breach_policy, no_digests):
    for _ in range(7):
        open_exception(opened_at=T0, due_in=60)
    alerts_scan(now=at(60))

    claimed = _alerts_claim(now=at(60), limit=3)

    assert len(claimed) == 3
    assert Alert.objects.filter(status=S.SENDING).count() == 3
    assert sorted(Alert.objects.filter(status=S.SENDING).values_list("id", flat=True)) == claimed
    assert _alerts_claim(now=at(60), limit=10) == sorted(
        Alert.objects.filter(status=S.SENDING).exclude(pk__in=claimed).values_list("id", flat=True)
    )
    assert _alerts_claim(now=at(60), limit=10) == []
