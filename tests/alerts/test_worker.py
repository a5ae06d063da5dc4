"""End to end: beat, a real Celery worker on the alerts queue and a real SMTP listener."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.alerts.models import Alert, SlaPolicy
from tests.alerts.conftest import open_exception
from tests.alerts.smtp import Relay
from tests.conftest import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def relay():
    relay = Relay()
    relay.start()
    yield relay
    relay.stop()


def test_worker_beat_scan_and_send_one_email_per_breach(start_worker, start_beat, relay):
    SlaPolicy.objects.all().delete()
    item = open_exception(opened_at=timezone.now() - timedelta(hours=2), due_in=60)
    env = {
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(relay.port),
        "HUBCONSOLE_ALERT_SCAN_SECONDS": "1",
    }
    worker = start_worker(queues="alerts", concurrency=2, **env)
    start_beat(**env)

    wait_until(
        lambda: relay.inbox.messages, timeout=60, message=f"an alert e-mail ({worker.log_path})"
    )
    time.sleep(4)  # several more scans and sender runs

    assert len(relay.inbox.messages) == 1, relay.inbox.messages
    rcpt, message = relay.inbox.messages[0]
    assert rcpt == [item.team.email]
    assert message["Subject"] == f"[HubConsole] SLA breached: PRICE_VARIANCE #{item.pk}"
    assert Alert.objects.get(exception=item).status == "sent"
