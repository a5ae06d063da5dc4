"""Pausing and resuming a connector: who may, what is audited, what is rung on commit."""

import pytest
from auditlog.models import LogEntry

from apps.connectors.services import connector_set_paused
from apps.core.errors import PermissionDenied
from apps.core.redis import redis_client
from apps.pipeline.choices import WorkStageChoices
from tests.conftest import make_rest_target, make_webhook


@pytest.fixture
def target(db):
    return make_rest_target("http://127.0.0.1:9/documents")


def _pause_entries(connector):
    updates = LogEntry.objects.get_for_object(connector).filter(action=LogEntry.Action.UPDATE)
    return [e for e in updates if "paused" in e.changes_dict]


def test_connector_set_paused_by_engineer_pauses_and_is_audited(target, engineer):
    connector = connector_set_paused(connector_id=target.pk, paused=True, actor=engineer)

    target.refresh_from_db()
    assert target.paused is True
    assert connector.paused is True
    [entry] = _pause_entries(target)
    assert entry.action == LogEntry.Action.UPDATE
    assert entry.actor == engineer
    assert entry.changes_dict["paused"] == ["False", "True"]


def test_connector_set_paused_resume_is_audited_with_actor(target, engineer):
    connector_set_paused(connector_id=target.pk, paused=True, actor=engineer)

    connector_set_paused(connector_id=target.pk, paused=False, actor=engineer)

    target.refresh_from_db()
    assert target.paused is False
    entries = sorted(_pause_entries(target), key=lambda e: e.pk)
    assert [e.changes_dict["paused"] for e in entries] == [["False", "True"], ["True", "False"]]
    assert {e.actor for e in entries} == {engineer}


def test_connector_set_paused_same_value_writes_no_audit_entry(target, engineer):
    connector_set_paused(connector_id=target.pk, paused=False, actor=engineer)

    assert _pause_entries(target) == []


@pytest.mark.parametrize("persona", ["ap_analyst", "viewer", "steward", "outsider"])
def test_connector_set_paused_refused_without_permission(target, request, persona):
    actor = request.getfixturevalue(persona)

    with pytest.raises(PermissionDenied) as caught:
        connector_set_paused(connector_id=target.pk, paused=True, actor=actor)

    assert caught.value.code == "PERMISSION_DENIED"
    target.refresh_from_db()
    assert target.paused is False
    assert _pause_entries(target) == []


def test_connector_set_paused_refused_without_actor(target):
    with pytest.raises(PermissionDenied):
        connector_set_paused(connector_id=target.pk, paused=True, actor=None)

    target.refresh_from_db()
    assert target.paused is False


def test_connector_set_paused_resume_rings_every_stage_on_commit(
    db, engineer, django_capture_on_commit_callbacks
):
    webhook = make_webhook(paused=True)
    redis = redis_client()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        connector_set_paused(connector_id=webhook.pk, paused=False, actor=engineer)
        # Nothing is rung before the commit: workers would find the connector still paused.
        assert redis.exists("hubconsole:doorbell:process") == 0
    for callback in callbacks:
        callback()

    assert len(callbacks) == len(WorkStageChoices.values)
    for stage in WorkStageChoices.values:
        assert redis.exists(f"hubconsole:doorbell:{stage}") == 1


def test_connector_set_paused_pause_rings_nothing(db, engineer, django_capture_on_commit_callbacks):
    webhook = make_webhook()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        connector_set_paused(connector_id=webhook.pk, paused=True, actor=engineer)

    assert callbacks == []
    assert redis_client().exists("hubconsole:doorbell:process") == 0
