"""From root cause to replay: one approved mapping finds and replays every exception it fixes."""

import pytest
from auditlog.models import LogEntry

from apps.core.errors import HubError
from apps.exceptions.models import BusinessException
from apps.exceptions.services import ExceptionSpec, exceptions_open
from apps.masterdata.lookup import LookupKey, lookup
from apps.masterdata.services import (
    crossref_approve,
    crossref_propose,
    crossref_replay_resolvable,
    crossref_resolvable_exceptions,
)
from apps.pipeline import processors
from apps.pipeline.models import Transaction
from apps.pipeline.services import work_drain
from tests.conftest import make_webhook
from tests.masterdata.builders import D, audit_entries, supplier
from tests.pipeline.builders import receive_json

pytestmark = pytest.mark.django_db

DOCUMENT_TYPE = "test.supplier_invoice"
ON = D(2026, 3, 1)


def supplier_invoice(message: processors.InboundView) -> processors.Processed:
    """A flow's processor in miniature: look the supplier up, raise the miss as it is."""
    document = processors.json_document(message.raw)
    resolved = lookup(LookupKey("ERP", "supplier", document["supplier"]), on=ON)
    if not resolved.ok:
        raise resolved.error()
    return processors.Processed(
        {"document_type": DOCUMENT_TYPE, "supplier_id": resolved.record_id},
        document_id=document["id"],
    )


@pytest.fixture
def failed(monkeypatch, erp):
    """Three invoices from unmapped ERP supplier V-77 and one from V-88, all failed."""
    monkeypatch.setitem(processors._PROCESSORS, DOCUMENT_TYPE, supplier_invoice)
    source = make_webhook(slug="invoices", document_type=DOCUMENT_TYPE)
    received = {
        code: [
            receive_json(source, {"id": f"INV-{code}-{n}", "supplier": code}).transaction_id
            for n in range(count)
        ]
        for code, count in (("V-77", 3), ("V-88", 1))
    }
    assert work_drain(stage="process") == 4
    return received


def _exceptions(transaction_ids):
    return BusinessException.objects.filter(transaction_id__in=transaction_ids).order_by("pk")


def _propose_v77(steward):
    return crossref_propose(
        actor=steward,
        system="ERP",
        entity_type="supplier",
        external_code="V-77",
        target=supplier("ACME", "Acme"),
        effective_from=D(2026, 1, 1),
    )


def test_failures_are_grouped_by_root_cause(failed):
    transactions = Transaction.objects.filter(pk__in=failed["V-77"] + failed["V-88"])
    assert set(transactions.values_list("status", "last_error_code")) == {
        ("exception", "SUPPLIER_UNKNOWN")
    }
    assert (
        list(_exceptions(failed["V-77"]).values_list("code", "root_cause_key"))
        == [("SUPPLIER_UNKNOWN", "supplier:ERP:V-77")] * 3
    )
    assert list(_exceptions(failed["V-88"]).values_list("code", "root_cause_key")) == [
        ("SUPPLIER_UNKNOWN", "supplier:ERP:V-88")
    ]


def test_one_approved_mapping_replays_and_resolves_every_exception_it_fixes(
    failed, steward, checker, django_capture_on_commit_callbacks
):
    fixed = list(_exceptions(failed["V-77"]).values_list("pk", flat=True))
    other = _exceptions(failed["V-88"]).get()
    # Same key, other code: not a missing supplier mapping, so not this mapping's to resolve.
    (unrelated,) = exceptions_open(
        [
            ExceptionSpec(
                code="VALUE_MAPPING_MISSING",
                summary="Another kind of miss",
                root_cause_key="supplier:ERP:V-77",
            )
        ]
    )
    draft = _propose_v77(steward)

    with django_capture_on_commit_callbacks(execute=True):  # commits: the lookup cache moves on
        approved = crossref_approve(xref_id=draft.pk, actor=checker)

    assert approved.resolvable_exception_ids == fixed
    assert list(
        crossref_resolvable_exceptions(xref=approved.record).values_list("pk", flat=True)
    ) == (fixed)

    outcome = crossref_replay_resolvable(xref_id=draft.pk, actor=checker)

    assert (outcome.replayed, outcome.refused) == (fixed, {})
    assert set(
        Transaction.objects.filter(pk__in=failed["V-77"]).values_list("status", flat=True)
    ) == {"received"}
    assert work_drain(stage="process") == 3

    acme_id = approved.record.object_id
    for tx in Transaction.objects.filter(pk__in=failed["V-77"]):
        assert (tx.status, tx.canonical["supplier_id"]) == ("completed", acme_id)
        assert tx.events.filter(kind="replayed", actor=checker).count() == 1
    for exception in BusinessException.objects.filter(pk__in=fixed):
        assert exception.status == "resolved"
        assert exception.resolution == "Resolved: the transaction succeeded when replayed."
        assert list(exception.activities.values_list("kind", "actor")) == [
            ("opened", None),
            ("replay_requested", checker.pk),
            ("resolved", checker.pk),
        ]
        resolved = audit_entries(exception, LogEntry.Action.UPDATE).get()
        assert resolved.actor == checker
        assert resolved.changes_dict["status"] == ["open", "resolved"]
    other.refresh_from_db()
    assert other.status == "open"
    assert Transaction.objects.get(pk=failed["V-88"][0]).status == "exception"
    assert BusinessException.objects.get(pk=unrelated).status == "open"
    # Nothing is left for this mapping to do.
    assert crossref_replay_resolvable(xref_id=draft.pk, actor=checker).replayed == []


def test_a_replay_the_actor_may_not_do_is_reported_not_fatal(failed, steward, checker, viewer):
    approved = crossref_approve(xref_id=_propose_v77(steward).pk, actor=checker)

    outcome = crossref_replay_resolvable(xref_id=approved.record.pk, actor=viewer)

    assert outcome.replayed == []
    assert outcome.refused == dict.fromkeys(
        approved.resolvable_exception_ids, "You may not replay transactions."
    )
    assert set(_exceptions(failed["V-77"]).values_list("status", flat=True)) == {"open"}
    assert set(
        Transaction.objects.filter(pk__in=failed["V-77"]).values_list("status", flat=True)
    ) == {"exception"}


def test_only_an_approved_mapping_replays(failed, steward):
    draft = _propose_v77(steward)

    with pytest.raises(HubError) as raised:
        crossref_replay_resolvable(xref_id=draft.pk, actor=steward)

    assert raised.value.code == "MAPPING_NOT_APPROVED"
    assert set(_exceptions(failed["V-77"]).values_list("status", flat=True)) == {"open"}
