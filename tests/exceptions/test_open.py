"""Opening exceptions from the pipeline: one work item per (transaction, code) while open."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.errors import HubError
from apps.exceptions.choices import (
    BusinessExceptionStatusChoices,
    ExceptionActivityKindChoices,
    SeverityChoices,
)
from apps.exceptions.models import BusinessException, ExceptionActivity, ExceptionCode
from apps.exceptions.services import (
    ExceptionSpec,
    exception_assign,
    exception_resolve,
    exceptions_open,
)

K = ExceptionActivityKindChoices
S = BusinessExceptionStatusChoices


def _kinds(exception_id: int) -> list[str]:
    return list(
        ExceptionActivity.objects.filter(exception_id=exception_id).values_list("kind", flat=True)
    )


def test_exceptions_open_copies_team_severity_and_sla_from_the_code(make_transaction):
    tx_a, tx_b = make_transaction(), make_transaction()
    before = timezone.now()

    ids = exceptions_open(
        [
            ExceptionSpec(
                code="PARSE_ERROR",
                summary="Line 3 is not JSON",
                transaction_id=tx_a,
                correlation_id="corr-a",
                root_cause_key="connector:1",
                details={"line": 3},
            ),
            ExceptionSpec(
                code="SUPPLIER_UNKNOWN",
                summary="No supplier ACME-77",
                transaction_id=tx_b,
                root_cause_key="supplier:ERP:ACME-77",
            ),
        ]
    )

    assert len(ids) == 2
    parse = BusinessException.objects.get(transaction_id=tx_a)
    supplier = BusinessException.objects.get(transaction_id=tx_b)
    assert set(ids) == {parse.pk, supplier.pk}
    for item, code_name in ((parse, "PARSE_ERROR"), (supplier, "SUPPLIER_UNKNOWN")):
        code = ExceptionCode.objects.get(code=code_name)
        assert item.code_id == code_name
        assert item.team_id == code.owning_team_id
        assert item.severity == code.severity
        assert item.status == S.OPEN
        assert item.occurrences == 1
        assert item.assignee is None
        assert item.resolved_at is None
        assert item.opened_at >= before - timedelta(seconds=5)
        assert item.due_at - item.opened_at == timedelta(minutes=code.sla_minutes)
    assert parse.team.slug == "integration"
    assert supplier.team.slug == "master_data"
    assert (parse.summary, parse.correlation_id, parse.root_cause_key, parse.details) == (
        "Line 3 is not JSON",
        "corr-a",
        "connector:1",
        {"line": 3},
    )
    assert supplier.root_cause_key == "supplier:ERP:ACME-77"


def test_exceptions_open_uses_the_catalogue_as_edited(make_transaction):
    ExceptionCode.objects.filter(code="PRICE_VARIANCE").update(
        sla_minutes=17, severity=SeverityChoices.CRITICAL
    )

    (exception_id,) = exceptions_open(
        [ExceptionSpec(code="PRICE_VARIANCE", summary="off", transaction_id=make_transaction())]
    )

    item = BusinessException.objects.get(pk=exception_id)
    assert item.severity == SeverityChoices.CRITICAL
    assert item.due_at - item.opened_at == timedelta(minutes=17)


def test_exceptions_open_writes_an_opened_activity(make_transaction):
    (exception_id,) = exceptions_open(
        [
            ExceptionSpec(
                code="GR_MISSING", summary="No receipt yet", transaction_id=make_transaction()
            )
        ]
    )

    activity = ExceptionActivity.objects.get(exception_id=exception_id)
    assert activity.kind == K.OPENED
    assert activity.actor is None
    assert activity.message == "No receipt yet"


def test_exceptions_open_again_while_open_counts_an_occurrence(make_transaction):
    tx = make_transaction()
    (first,) = exceptions_open(
        [ExceptionSpec(code="THROTTLED", summary="429 #1", transaction_id=tx)]
    )

    (second,) = exceptions_open(
        [ExceptionSpec(code="THROTTLED", summary="429 #2", transaction_id=tx, details={"n": 2})]
    )

    assert second == first
    item = BusinessException.objects.get()
    assert item.occurrences == 2
    assert item.summary == "429 #2"
    assert item.details == {"n": 2}
    assert item.status == S.OPEN
    assert _kinds(first) == [K.OPENED, K.REOCCURRED]
    assert ExceptionActivity.objects.get(kind=K.REOCCURRED).message == "429 #2"


def test_exceptions_open_again_while_in_progress_counts_an_occurrence(make_transaction, ap_analyst):
    tx = make_transaction()
    (first,) = exceptions_open([ExceptionSpec(code="QTY_VARIANCE", summary="q", transaction_id=tx)])
    exception_assign(exception_id=first, assignee=ap_analyst, actor=ap_analyst)

    (second,) = exceptions_open(
        [ExceptionSpec(code="QTY_VARIANCE", summary="q", transaction_id=tx)]
    )

    assert second == first
    item = BusinessException.objects.get()
    assert (item.status, item.occurrences, item.assignee) == (S.IN_PROGRESS, 2, ap_analyst)


def test_exceptions_open_same_transaction_other_code_is_a_second_item(make_transaction):
    tx = make_transaction()

    ids = exceptions_open(
        [
            ExceptionSpec(code="PRICE_VARIANCE", summary="p", transaction_id=tx),
            ExceptionSpec(code="QTY_VARIANCE", summary="q", transaction_id=tx),
        ]
    )

    assert len(set(ids)) == 2
    assert BusinessException.objects.filter(transaction_id=tx).count() == 2


def test_exceptions_open_after_resolution_opens_a_new_item(make_transaction, ap_analyst):
    tx = make_transaction()
    (first,) = exceptions_open([ExceptionSpec(code="PO_NOT_FOUND", summary="a", transaction_id=tx)])
    exception_resolve(exception_id=first, actor=ap_analyst, reason="PO created in ERP")

    (second,) = exceptions_open(
        [ExceptionSpec(code="PO_NOT_FOUND", summary="b", transaction_id=tx)]
    )

    assert second != first
    old, new = BusinessException.objects.get(pk=first), BusinessException.objects.get(pk=second)
    assert (old.status, old.occurrences) == (S.RESOLVED, 1)
    assert (new.status, new.occurrences, new.summary) == (S.OPEN, 1, "b")
    assert _kinds(second) == [K.OPENED]
    assert _kinds(first) == [K.OPENED, K.RESOLVED]


def test_exceptions_open_unknown_code_raises_and_writes_nothing(make_transaction):
    tx = make_transaction()

    with pytest.raises(HubError) as caught:
        exceptions_open(
            [
                ExceptionSpec(code="PARSE_ERROR", summary="fine", transaction_id=tx),
                ExceptionSpec(code="NO_SUCH_CODE", summary="typo", transaction_id=tx),
            ]
        )

    assert caught.value.code == "CATALOGUE_MISSING"
    assert "NO_SUCH_CODE" in caught.value.message
    assert not BusinessException.objects.exists()
    assert not ExceptionActivity.objects.exists()


def test_exceptions_open_nothing_to_open_writes_nothing(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert exceptions_open([]) == []


def test_exceptions_open_truncates_a_long_summary(make_transaction):
    (exception_id,) = exceptions_open(
        [ExceptionSpec(code="PARSE_ERROR", summary="x" * 1000, transaction_id=make_transaction())]
    )

    assert len(BusinessException.objects.get(pk=exception_id).summary) == 300


def test_exceptions_open_same_failure_twice_in_one_batch_counts_two_occurrences(make_transaction):
    tx = make_transaction()
    spec = ExceptionSpec(code="TARGET_UNAVAILABLE", summary="timeout", transaction_id=tx)

    ids = exceptions_open([spec, spec])

    item = BusinessException.objects.get()
    assert ids == [item.pk, item.pk]
    assert item.occurrences == 2


def test_exceptions_open_restores_a_deleted_seed_code_instead_of_failing(make_transaction):
    from apps.exceptions.models import ExceptionCode

    tx = make_transaction()
    ExceptionCode.objects.filter(code="PARSE_ERROR").delete()  # an unused code, removed by hand

    ids = exceptions_open([ExceptionSpec(code="PARSE_ERROR", summary="bad", transaction_id=tx)])

    assert BusinessException.objects.get(pk=ids[0]).code.owning_team.slug == "integration"
