"""Governed mappings in the admin: proposals are drafts, a second steward decides, refusals
become messages, and an approved mapping replays the exceptions it resolves."""

import datetime

import pytest
from django.urls import reverse

from apps.connectors.choices import ConnectorKindChoices
from apps.connectors.models import Connector
from apps.exceptions.catalogue import codes
from apps.exceptions.services import ExceptionSpec, exceptions_open
from apps.masterdata.models import CrossReference, ToleranceRule
from apps.pipeline.models import Transaction
from apps.pipeline.services import InboundMessage, transaction_receive
from tests.masterdata_admin.conftest import (
    changelist,
    confirm_action,
    make_xref,
    messages_of,
    run_action,
)

PROPOSAL = {
    "entity_type": "supplier",
    "external_code": "ACME-77",
    "target_code": "S1",
    "effective_from": "2024-01-01",
    "effective_to": "",
    "note": "Seen on ERP invoices",
    "supersedes": "",
}


def propose(client, world, **changes):
    data = {**PROPOSAL, "external_system": world["erp"].pk, **changes}
    return client.post(reverse("admin:masterdata_crossreference_add"), data)


def test_proposing_a_cross_reference_creates_a_draft(steward_client, world, steward):
    response = propose(steward_client, world)
    assert response.status_code == 302
    xref = CrossReference.objects.get()
    assert (xref.status, xref.created_by, xref.target) == ("draft", steward, world["supplier"])
    assert xref.effective_from == datetime.date(2024, 1, 1)
    page = steward_client.get(reverse("admin:masterdata_crossreference_change", args=[xref.pk]))
    assert 'name="_save"' not in page.content.decode()  # drafts are decided, not edited


def test_a_proposal_for_an_unknown_code_is_a_form_error(steward_client, world):
    response = propose(steward_client, world, target_code="NOPE")
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["target_code"] == ["No supplier has the code 'NOPE'."]
    assert not CrossReference.objects.exists()


def test_the_author_cannot_approve_but_a_second_steward_can(
    client, steward_client, world, steward, second_steward
):
    xref = make_xref(author=steward, target=world["supplier"], system=world["erp"])
    response = run_action(steward_client, CrossReference, "approve_selected", [xref], follow=True)
    assert response.status_code == 200
    assert any("another steward must approve it" in m for m in messages_of(response))
    xref.refresh_from_db()
    assert xref.status == "draft"

    client.force_login(second_steward)
    response = run_action(client, CrossReference, "approve_selected", [xref], follow=True)
    assert "Approved 1 cross reference." in messages_of(response)
    xref.refresh_from_db()
    assert (xref.status, xref.decided_by) == ("approved", second_steward)


def test_approve_from_the_record_page(client, world, steward, second_steward):
    xref = make_xref(author=steward, target=world["supplier"], system=world["erp"])
    client.force_login(second_steward)
    url = reverse("admin:masterdata_crossreference_change", args=[xref.pk])
    response = client.post(
        url, {"CHANGE_FORM-action": "approve_selected", "_selected_action": xref.pk}
    )
    assert response.status_code == 302
    xref.refresh_from_db()
    assert xref.status == "approved"


def test_reject_asks_for_a_reason_first(client, world, steward, second_steward):
    xref = make_xref(author=steward, target=world["supplier"], system=world["erp"])
    client.force_login(second_steward)
    page = run_action(client, CrossReference, "reject_selected", [xref])
    assert page.status_code == 200
    assert page.templates[0].name == "admin/masterdata/action_reason.html"

    empty = confirm_action(client, CrossReference, "reject_selected", [xref], reason="  ")
    assert empty.status_code == 200
    assert empty.context["form"].errors["reason"]
    xref.refresh_from_db()
    assert xref.status == "draft"

    done = confirm_action(
        client, CrossReference, "reject_selected", [xref], reason="Wrong supplier", follow=True
    )
    assert "Rejected 1 cross reference." in messages_of(done)
    xref.refresh_from_db()
    assert (xref.status, xref.decision_reason) == ("rejected", "Wrong supplier")


def test_retire_ends_an_approved_mapping(client, world, steward, second_steward):
    xref = make_xref(
        author=steward, target=world["supplier"], system=world["erp"], status="approved"
    )
    client.force_login(second_steward)
    confirm_action(
        client,
        CrossReference,
        "retire_selected",
        [xref],
        reason="Supplier left the ERP",
        last_day="2024-06-30",
    )
    xref.refresh_from_db()
    assert xref.effective_to == datetime.date(2024, 6, 30)


def test_a_refused_decision_is_a_message_not_an_error_page(client, world, steward, second_steward):
    xref = make_xref(
        author=steward, target=world["supplier"], system=world["erp"], status="rejected"
    )
    client.force_login(second_steward)
    response = run_action(client, CrossReference, "approve_selected", [xref], follow=True)
    assert response.status_code == 200
    assert any("Only a change waiting for approval" in m for m in messages_of(response))


def test_a_change_to_an_approved_mapping_is_a_draft_that_supersedes_it(
    client, world, steward, second_steward
):
    old = make_xref(
        author=second_steward,
        target=world["supplier"],
        system=world["erp"],
        code="ACME-77",
        status="approved",
    )
    other = type(world["supplier"]).objects.create(
        code="S9", name="Beta Surgical", normalized_name="beta surgical"
    )
    client.force_login(steward)
    page = client.get(reverse("admin:masterdata_crossreference_change", args=[old.pk]))
    change_url = reverse("admin:masterdata_crossreference_add") + f"?supersedes={old.pk}"
    assert change_url in page.content.decode()
    prefilled = client.get(change_url).context["adminform"].form.initial
    assert (prefilled["external_code"], prefilled["target_code"]) == ("ACME-77", "S1")

    response = propose(
        client, world, target_code="S9", effective_from="2024-07-01", supersedes=old.pk
    )
    assert response.status_code == 302
    draft = CrossReference.objects.get(status="draft")
    assert (draft.supersedes, draft.target) == (old, other)
    old.refresh_from_db()
    assert (old.status, old.effective_to) == ("approved", None)  # untouched until approval


def test_propose_and_approve_need_the_steward_role(client, world, engineer):
    client.force_login(engineer)
    assert client.get(reverse("admin:masterdata_crossreference_add")).status_code == 403
    assert client.get(changelist(CrossReference)).status_code == 200
    choices = client.get(changelist(CrossReference)).context["action_form"].fields["action"]
    # An engineer may replay (a replay permission of its own) but not decide mappings.
    assert dict(choices.choices).keys() == {"", "replay_resolvable"}


def test_queue_link_and_title(steward_client, world, steward):
    make_xref(author=steward, target=world["supplier"], system=world["erp"])
    page = steward_client.get(changelist(CrossReference))
    assert "Waiting for approval (1)" in page.content.decode()
    queue = steward_client.get(changelist(CrossReference), {"status__exact": "draft"})
    assert queue.context["title"] == "Cross references waiting for approval"
    assert len(queue.context["cl"].result_list) == 1


@pytest.fixture
def failed_transaction(db):
    connector = Connector.objects.create(
        slug="erp-in", name="ERP in", kind=ConnectorKindChoices.WEBHOOK_IN
    )
    received = transaction_receive(
        message=InboundMessage(
            connector_id=connector.pk,
            format="json",
            document_type="invoice",
            raw=b'{"supplier": "ACME-77"}',
            idempotency_key="test:mdadmin:1",
        )
    )
    Transaction.objects.filter(pk=received.transaction_id).update(status="exception")
    return received.transaction_id


def test_approval_counts_resolvable_exceptions_and_the_replay_action_reports_outcomes(
    client, world, steward, second_steward, failed_transaction
):
    exceptions_open(
        [
            ExceptionSpec(
                code=codes.SUPPLIER_UNKNOWN,
                summary="Unknown supplier",
                transaction_id=transaction_id,
                root_cause_key="supplier:ERP:ACME-77",
            )
            for transaction_id in (failed_transaction, None)
        ]
    )
    xref = make_xref(author=steward, target=world["supplier"], system=world["erp"], code="ACME-77")
    client.force_login(second_steward)
    response = run_action(client, CrossReference, "approve_selected", [xref], follow=True)
    assert any("resolves 2 open exception(s)" in m for m in messages_of(response))

    response = run_action(client, CrossReference, "replay_resolvable", [xref], follow=True)
    (message,) = [m for m in messages_of(response) if m.startswith("Replayed")]
    assert message.startswith("Replayed 1 exception(s); 1 refused.")
    assert "no transaction to replay" in message


def test_tolerance_rules_are_proposed_and_decided_the_same_way(
    client, world, steward, second_steward
):
    client.force_login(steward)
    response = client.post(
        reverse("admin:masterdata_tolerancerule_add"),
        {
            "name": "Acme price",
            "level": "line",
            "measure": "price",
            "percent": "2.5",
            "absolute": "",
            "supplier": world["supplier"].pk,
            "item": "",
            "facility": "",
            "effective_from": "2024-01-01",
            "effective_to": "",
            "note": "",
            "supersedes": "",
        },
    )
    assert response.status_code == 302
    rule = ToleranceRule.objects.get()
    assert (rule.status, rule.created_by) == ("draft", steward)
    refused = run_action(client, ToleranceRule, "approve_selected", [rule], follow=True)
    assert any("another steward must approve it" in m for m in messages_of(refused))

    client.force_login(second_steward)
    run_action(client, ToleranceRule, "approve_selected", [rule])
    rule.refresh_from_db()
    assert rule.status == "approved"
