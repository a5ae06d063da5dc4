"""People working exceptions: assign, comment, resolve, ignore — who may, what is recorded."""

import pytest
from auditlog.context import set_actor
from auditlog.models import LogEntry
from django.db import transaction
from django.db.models import ProtectedError

from apps.core.errors import HubError, PermissionDenied
from apps.exceptions.choices import (
    BusinessExceptionStatusChoices,
    ExceptionActionChoices,
    ExceptionActivityKindChoices,
)
from apps.exceptions.models import BusinessException, ExceptionActivity, ExceptionCode
from apps.exceptions.services import (
    exception_assign,
    exception_comment,
    exception_ignore,
    exception_resolve,
    exceptions_note_replay,
    exceptions_resolve_for_transactions,
)

K = ExceptionActivityKindChoices
S = BusinessExceptionStatusChoices
A = ExceptionActionChoices

WORKERS = ["ap_analyst", "steward", "engineer"]
NON_WORKERS = ["viewer", "auditor", "outsider", None]


def _persona(request, name):
    return None if name is None else request.getfixturevalue(name)


def _activities(item) -> list[ExceptionActivity]:
    return list(ExceptionActivity.objects.filter(exception=item))


def _updates(item):
    return LogEntry.objects.get_for_object(item).filter(action=LogEntry.Action.UPDATE)


def _act(action: str, item, actor, other=None):
    """Call the service for ``action`` the way a view does: inside the request's actor."""
    with set_actor(actor):
        if action == A.ASSIGN:
            return exception_assign(exception_id=item.pk, assignee=other or actor, actor=actor)
        if action == A.COMMENT:
            return exception_comment(exception_id=item.pk, actor=actor, text="Looking at it")
        if action == A.RESOLVE:
            return exception_resolve(exception_id=item.pk, actor=actor, reason="Fixed upstream")
        return exception_ignore(exception_id=item.pk, actor=actor, reason="Test message")


# --- Permission matrix ---------------------------------------------------------------------------


@pytest.mark.parametrize("persona", WORKERS)
@pytest.mark.parametrize("action", [A.ASSIGN, A.COMMENT, A.RESOLVE, A.IGNORE])
def test_exception_action_allowed_to_people_who_work_exceptions(
    request, open_exception, persona, action
):
    actor = _persona(request, persona)
    item = open_exception()

    _act(action, item, actor)

    activity = ExceptionActivity.objects.filter(exception=item).last()
    assert activity.actor == actor
    assert (
        activity.kind
        == {
            A.ASSIGN: K.ASSIGNED,
            A.COMMENT: K.COMMENTED,
            A.RESOLVE: K.RESOLVED,
            A.IGNORE: K.IGNORED,
        }[action]
    )


@pytest.mark.parametrize("persona", NON_WORKERS)
@pytest.mark.parametrize("action", [A.ASSIGN, A.COMMENT, A.RESOLVE, A.IGNORE])
def test_exception_action_refused_to_people_who_do_not_work_exceptions(
    request, open_exception, ap_analyst, persona, action
):
    actor = _persona(request, persona)
    item = open_exception()

    with pytest.raises(PermissionDenied) as caught:
        _act(action, item, actor, other=ap_analyst)

    assert caught.value.code == "PERMISSION_DENIED"
    item.refresh_from_db()
    assert (item.status, item.assignee, item.resolved_at, item.resolution) == (
        S.OPEN,
        None,
        None,
        "",
    )
    assert [a.kind for a in _activities(item)] == [K.OPENED]
    assert not _updates(item).exists()


def test_exception_action_refused_to_a_deactivated_worker(open_exception, ap_analyst):
    ap_analyst.is_active = False
    ap_analyst.save()
    item = open_exception()

    with pytest.raises(PermissionDenied):
        _act(A.RESOLVE, item, ap_analyst)

    item.refresh_from_db()
    assert item.status == S.OPEN


# --- Assign ---------------------------------------------------------------------------------------


def test_exception_assign_claim_moves_to_in_progress_and_is_audited(open_exception, ap_analyst):
    item = open_exception()

    result = _act(A.ASSIGN, item, ap_analyst)

    item.refresh_from_db()
    assert result.pk == item.pk
    assert (item.status, item.assignee) == (S.IN_PROGRESS, ap_analyst)
    activity = _activities(item)[-1]
    assert (activity.kind, activity.actor, activity.data) == (
        K.ASSIGNED,
        ap_analyst,
        {"assignee_id": ap_analyst.pk},
    )
    (entry,) = _updates(item)
    assert entry.actor == ap_analyst
    assert entry.changes["status"] == [S.OPEN, S.IN_PROGRESS]
    assert "assignee" in entry.changes


def test_exception_assign_to_a_colleague_records_who_assigned(open_exception, steward, ap_analyst):
    item = open_exception()

    _act(A.ASSIGN, item, steward, other=ap_analyst)

    item.refresh_from_db()
    assert (item.status, item.assignee) == (S.IN_PROGRESS, ap_analyst)
    activity = _activities(item)[-1]
    assert (activity.actor, activity.data["assignee_id"]) == (steward, ap_analyst.pk)
    assert _updates(item).get().actor == steward


@pytest.mark.parametrize("assignee_name", ["viewer", "auditor", "outsider"])
def test_exception_assign_to_someone_who_cannot_work_exceptions_fails(
    request, open_exception, steward, assignee_name
):
    assignee = request.getfixturevalue(assignee_name)
    item = open_exception()

    with pytest.raises(HubError) as caught:
        _act(A.ASSIGN, item, steward, other=assignee)

    assert caught.value.code == "ASSIGNEE_NOT_ALLOWED"
    item.refresh_from_db()
    assert (item.status, item.assignee) == (S.OPEN, None)
    assert [a.kind for a in _activities(item)] == [K.OPENED]


def test_exception_assign_to_nobody_unassigns(open_exception, ap_analyst, steward):
    item = open_exception()
    _act(A.ASSIGN, item, ap_analyst)

    with set_actor(steward):
        exception_assign(exception_id=item.pk, assignee=None, actor=steward)

    item.refresh_from_db()
    assert item.assignee is None
    activity = _activities(item)[-1]
    assert (activity.kind, activity.actor, activity.message, activity.data) == (
        K.ASSIGNED,
        steward,
        "Unassigned.",
        {"assignee_id": None},
    )
    assert _updates(item).latest("timestamp").actor == steward


# --- Comment --------------------------------------------------------------------------------------


def test_exception_comment_is_recorded_with_its_author(open_exception, engineer):
    item = open_exception()

    with set_actor(engineer):
        activity = exception_comment(
            exception_id=item.pk, actor=engineer, text="  Supplier fixed their feed.\n"
        )

    assert activity.pk is not None
    assert (activity.kind, activity.actor, activity.message) == (
        K.COMMENTED,
        engineer,
        "Supplier fixed their feed.",
    )
    item.refresh_from_db()
    assert item.status == S.OPEN
    assert not _updates(item).exists()


@pytest.mark.parametrize("text", ["", "   \n\t"])
def test_exception_comment_requires_text(open_exception, ap_analyst, text):
    item = open_exception()

    with pytest.raises(HubError) as caught:
        exception_comment(exception_id=item.pk, actor=ap_analyst, text=text)

    assert caught.value.code == "COMMENT_EMPTY"
    assert [a.kind for a in _activities(item)] == [K.OPENED]


# --- Resolve and ignore ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "status", "kind"),
    [(exception_resolve, S.RESOLVED, K.RESOLVED), (exception_ignore, S.IGNORED, K.IGNORED)],
)
def test_exception_close_records_reason_time_actor_and_audit(
    open_exception, ap_analyst, service, status, kind
):
    item = open_exception()

    with set_actor(ap_analyst):
        result = service(exception_id=item.pk, actor=ap_analyst, reason="  Credit note received ")

    item.refresh_from_db()
    assert result.pk == item.pk
    assert (item.status, item.resolution) == (status, "Credit note received")
    assert item.resolved_at is not None
    assert item.resolved_at >= item.opened_at
    activity = _activities(item)[-1]
    assert (activity.kind, activity.actor, activity.message) == (
        kind,
        ap_analyst,
        "Credit note received",
    )
    (entry,) = _updates(item)
    assert entry.actor == ap_analyst
    assert entry.changes["status"] == [S.OPEN, status]
    assert {"resolution", "resolved_at"} <= set(entry.changes)


def test_exception_resolve_from_in_progress(open_exception, ap_analyst):
    item = open_exception()
    _act(A.ASSIGN, item, ap_analyst)

    _act(A.RESOLVE, item, ap_analyst)

    item.refresh_from_db()
    assert (item.status, item.assignee) == (S.RESOLVED, ap_analyst)
    assert [a.kind for a in _activities(item)] == [K.OPENED, K.ASSIGNED, K.RESOLVED]


def test_exception_resolve_keeps_a_long_reason_in_the_activity(open_exception, ap_analyst):
    item = open_exception()
    reason = "r" * 500

    exception_resolve(exception_id=item.pk, actor=ap_analyst, reason=reason)

    item.refresh_from_db()
    assert item.resolution == "r" * 300
    assert _activities(item)[-1].message == reason


@pytest.mark.parametrize("service", [exception_resolve, exception_ignore])
@pytest.mark.parametrize("reason", ["", "  \n "])
def test_exception_close_requires_a_reason(open_exception, ap_analyst, service, reason):
    item = open_exception()

    with pytest.raises(HubError) as caught:
        service(exception_id=item.pk, actor=ap_analyst, reason=reason)

    assert caught.value.code == "REASON_REQUIRED"
    item.refresh_from_db()
    assert (item.status, item.resolved_at) == (S.OPEN, None)
    assert [a.kind for a in _activities(item)] == [K.OPENED]


@pytest.mark.parametrize("closing", [exception_resolve, exception_ignore])
@pytest.mark.parametrize("action", [A.ASSIGN, A.RESOLVE, A.IGNORE])
def test_exception_action_on_a_closed_item_fails(open_exception, ap_analyst, closing, action):
    item = open_exception()
    closing(exception_id=item.pk, actor=ap_analyst, reason="Done")
    item.refresh_from_db()
    closed = (item.status, item.resolved_at, item.resolution, item.assignee)

    with pytest.raises(HubError) as caught:
        _act(action, item, ap_analyst)

    assert caught.value.code == "EXCEPTION_CLOSED"
    item.refresh_from_db()
    assert (item.status, item.resolved_at, item.resolution, item.assignee) == closed
    assert len(_activities(item)) == 2


@pytest.mark.parametrize("action", [A.ASSIGN, A.COMMENT, A.RESOLVE, A.IGNORE])
def test_exception_action_not_allowed_for_the_code_fails(open_exception, ap_analyst, action):
    code = ExceptionCode.objects.get(code="PRICE_VARIANCE")
    code.allowed_actions = [a for a in code.allowed_actions if a != action]
    code.save()
    item = open_exception("PRICE_VARIANCE")

    with pytest.raises(HubError) as caught:
        _act(action, item, ap_analyst)

    assert caught.value.code == "ACTION_NOT_ALLOWED"
    assert A(action).label in caught.value.message
    item.refresh_from_db()
    assert (item.status, item.assignee) == (S.OPEN, None)
    assert [a.kind for a in _activities(item)] == [K.OPENED]


def test_exception_action_checks_the_code_of_the_item_only(open_exception, ap_analyst):
    ExceptionCode.objects.filter(code="QTY_VARIANCE").update(allowed_actions=[])
    item = open_exception("PRICE_VARIANCE")

    _act(A.RESOLVE, item, ap_analyst)

    item.refresh_from_db()
    assert item.status == S.RESOLVED


def test_exception_action_on_an_unknown_exception_fails(db, ap_analyst):
    with pytest.raises(BusinessException.DoesNotExist):
        exception_resolve(exception_id=987654, actor=ap_analyst, reason="x")


# --- Resolution by the pipeline (inside a worker) -------------------------------------------------


def test_exceptions_resolve_for_transactions_attributes_the_replaying_user(
    open_exception, make_transaction, engineer, ap_analyst
):
    replayed = make_transaction()
    first = open_exception("TARGET_UNAVAILABLE", transaction_id=replayed)
    second = open_exception("AUTH_FAILED", transaction_id=replayed)
    other = open_exception("TARGET_UNAVAILABLE")
    already_closed = open_exception("PRICE_VARIANCE", transaction_id=replayed)
    exception_ignore(exception_id=already_closed.pk, actor=ap_analyst, reason="Known")

    # No outer set_actor: this is how a Celery worker calls it.
    resolved = exceptions_resolve_for_transactions(
        transaction_ids=[replayed], actor_id=engineer.pk, reason="Succeeded on replay"
    )

    assert resolved == 2
    for item in (first, second):
        item.refresh_from_db()
        assert (item.status, item.resolution) == (S.RESOLVED, "Succeeded on replay")
        assert item.resolved_at is not None
        activity = _activities(item)[-1]
        assert (activity.kind, activity.actor, activity.message) == (
            K.RESOLVED,
            engineer,
            "Succeeded on replay",
        )
        (entry,) = _updates(item)
        assert entry.actor == engineer
        assert entry.changes["status"] == [S.OPEN, S.RESOLVED]
    other.refresh_from_db()
    assert other.status == S.OPEN
    already_closed.refresh_from_db()
    assert (already_closed.status, already_closed.resolution) == (S.IGNORED, "Known")
    assert not _updates(other).exists()


def test_exceptions_resolve_for_transactions_without_actor_is_the_system(open_exception):
    item = open_exception("TARGET_UNAVAILABLE")

    assert (
        exceptions_resolve_for_transactions(
            transaction_ids=[item.transaction_id], actor_id=None, reason="Succeeded"
        )
        == 1
    )

    item.refresh_from_db()
    assert item.status == S.RESOLVED
    assert _activities(item)[-1].actor is None
    assert _updates(item).get().actor is None


def test_exceptions_resolve_for_transactions_with_nothing_open_writes_nothing(
    make_transaction, engineer
):
    assert (
        exceptions_resolve_for_transactions(
            transaction_ids=[make_transaction()], actor_id=engineer.pk, reason="ok"
        )
        == 0
    )
    assert not ExceptionActivity.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_exceptions_resolve_for_transactions_runs_in_its_own_transaction(open_exception, engineer):
    item = open_exception("TARGET_UNAVAILABLE")

    exceptions_resolve_for_transactions(
        transaction_ids=[item.transaction_id], actor_id=engineer.pk, reason="Succeeded"
    )

    item.refresh_from_db()
    assert item.status == S.RESOLVED


def test_exceptions_note_replay_marks_only_open_items(open_exception, make_transaction, engineer):
    tx = make_transaction()
    open_item = open_exception("TARGET_UNAVAILABLE", transaction_id=tx)
    closed = open_exception("PRICE_VARIANCE", transaction_id=tx)
    exception_resolve(exception_id=closed.pk, actor=engineer, reason="done")

    assert exceptions_note_replay(transaction_id=tx, actor=engineer) == 1

    activity = _activities(open_item)[-1]
    assert (activity.kind, activity.actor) == (K.REPLAY_REQUESTED, engineer)
    assert _activities(closed)[-1].kind == K.RESOLVED


# --- People leave -------------------------------------------------------------------------------


def test_exception_activity_author_cannot_be_deleted_silently(open_exception, ap_analyst):
    item = open_exception()
    exception_comment(exception_id=item.pk, actor=ap_analyst, text="On it")

    with pytest.raises(ProtectedError), transaction.atomic():
        ap_analyst.delete()

    assert ExceptionActivity.objects.filter(actor=ap_analyst).count() == 1
