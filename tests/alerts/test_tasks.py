"""The alert tasks: thin, argument-free, and routed to the alerts queue."""

from apps.alerts import tasks
from apps.alerts.models import Alert
from hubconsole.celery import app as celery_app
from tests.alerts.conftest import T0, open_exception


def test_tasks_go_to_the_alerts_queue():
    for name in ("alerts.scan", "alerts.send"):
        route = celery_app.amqp.router.route({}, name, args=(), kwargs={})
        assert route["queue"].name == "alerts", name


def test_tasks_run_the_scan_then_the_sender(make_policy, settings, mailoutbox):
    settings.HUBCONSOLE = {**settings.HUBCONSOLE, "ALERT_DIGEST_THRESHOLD": 10_000}
    make_policy()
    item = open_exception(opened_at=T0, due_in=60)

    scanned = tasks.scan()
    sent = tasks.send()

    assert scanned["alerts"] == 1
    assert sent["sent"] == 1
    assert len(mailoutbox) == 1
    assert Alert.objects.get(exception=item).status == "sent"


def test_beat_runs_scan_and_sender_every_minute_by_default(settings):
    schedule = {
        entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }

    assert schedule["alerts.scan"] == 60.0
    assert schedule["alerts.send"] == 60.0
