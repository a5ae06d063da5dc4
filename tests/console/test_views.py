"""Console screens: the permission matrix, page and fragment renderings, actions, CSRF."""

import pytest
from django.test import Client
from django.urls import reverse

from apps.exceptions.models import BusinessException
from apps.pipeline.choices import WorkStageChoices as Stage
from apps.pipeline.models import Transaction
from apps.pipeline.services import work_drain
from tests.conftest import make_webhook
from tests.pipeline.builders import receive_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def failed_tx():
    """An inbound transaction stopped with a SCHEMA_INVALID exception."""
    connector = make_webhook()
    received = receive_json(connector, key="bad", raw=b'{"patient": "Jane Roe", "no": "id"}')
    work_drain(stage=Stage.PROCESS)
    return Transaction.objects.get(pk=received.transaction_id)


def screens(tx: Transaction) -> list[str]:
    item = BusinessException.objects.get(transaction=tx)
    return [
        reverse("console:home"),
        reverse("console:transaction_list"),
        reverse("console:transaction_detail", args=[tx.pk]),
        reverse("console:exception_list"),
        reverse("console:exception_detail", args=[item.pk]),
        reverse("console:connector_list"),
    ]


def login(client: Client, user) -> Client:
    client.force_login(user)
    return client


def test_anonymous_users_are_sent_to_sign_in(client, failed_tx):
    for url in screens(failed_tx):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("accounts:login"))


def test_a_user_without_a_role_is_refused_every_screen(client, outsider, failed_tx):
    login(client, outsider)
    for url in screens(failed_tx):
        assert client.get(url).status_code == 403, url


@pytest.mark.parametrize("persona", ["viewer", "ap_analyst", "steward", "engineer", "auditor"])
def test_every_role_reads_every_screen_as_page_and_fragment(client, request, persona, failed_tx):
    login(client, request.getfixturevalue(persona))
    for url in screens(failed_tx):
        page = client.get(url)
        assert page.status_code == 200, url
        assert b"<html" in page.content
        fragment = client.get(url, headers={"HX-Request": "true"})
        assert fragment.status_code == 200, url
        assert "HX-Request" in page["Vary"]


def test_transaction_list_filters_by_business_key_and_status(client, viewer, failed_tx):
    connector = failed_tx.connector
    receive_json(connector, {"id": "REQ-5", "po_number": "PO-123"}, key="good")
    work_drain(stage=Stage.PROCESS)
    login(client, viewer)

    by_key = client.get(reverse("console:transaction_list"), {"q": "PO-123"})
    by_status = client.get(reverse("console:transaction_list"), {"status": "exception"})

    assert [tx.document_id for tx in by_key.context["page"].rows] == ["REQ-5"]
    assert [tx.pk for tx in by_status.context["page"].rows] == [failed_tx.pk]


def test_transaction_list_pages_by_keyset(client, viewer):
    connector = make_webhook()
    for n in range(55):
        receive_json(connector, {"id": f"D-{n}"})
    login(client, viewer)

    first = client.get(reverse("console:transaction_list"))
    second = client.get(
        reverse("console:transaction_list"), {"before": first.context["page"].next_before}
    )

    assert len(first.context["page"].rows) == 50
    assert len(second.context["page"].rows) == 5
    assert second.context["page"].next_before is None
    assert not {t.pk for t in first.context["page"].rows} & {
        t.pk for t in second.context["page"].rows
    }


def test_list_screens_do_not_grow_queries_with_rows(client, viewer, django_assert_max_num_queries):
    connector = make_webhook()
    for n in range(40):
        receive_json(connector, {"id": f"D-{n}"})
    login(client, viewer)
    with django_assert_max_num_queries(12):
        client.get(reverse("console:transaction_list"))


def test_payload_is_shown_only_to_roles_that_may_see_patient_data(
    client, viewer, engineer, failed_tx
):
    url = reverse("console:transaction_detail", args=[failed_tx.pk])
    hidden = login(client, viewer).get(url).content
    shown = login(Client(), engineer).get(url).content
    assert b'class="payload"' not in hidden
    assert b'class="payload"' in shown
    # ... and even then the patient's name is masked; the rest of the message is there.
    assert b"Jane Roe" not in shown
    assert b"&quot;patient&quot;: &quot;***&quot;" in shown


def test_replay_from_the_console_queues_the_transaction(client, engineer, failed_tx):
    login(client, engineer)
    response = client.post(reverse("console:transaction_replay", args=[failed_tx.pk]))

    assert response.status_code == 302
    failed_tx.refresh_from_db()
    assert failed_tx.status == "received"
    assert failed_tx.events.filter(kind="replayed", actor=engineer).exists()


def test_replay_is_refused_to_a_viewer(client, viewer, failed_tx):
    login(client, viewer)
    assert (
        client.post(reverse("console:transaction_replay", args=[failed_tx.pk])).status_code == 403
    )
    failed_tx.refresh_from_db()
    assert failed_tx.status == "exception"


def test_exception_actions_claim_comment_and_resolve(client, ap_analyst, failed_tx):
    item = BusinessException.objects.get(transaction=failed_tx)
    url = reverse("console:exception_action", args=[item.pk])
    login(client, ap_analyst)

    client.post(url, {"action": "claim"})
    client.post(url, {"action": "comment", "text": "Asked the sender for the id."})
    client.post(url, {"action": "resolve", "text": "Sender resent it correctly."})

    item.refresh_from_db()
    assert (item.status, item.assignee, item.resolution) == (
        "resolved",
        ap_analyst,
        "Sender resent it correctly.",
    )
    kinds = list(item.activities.values_list("kind", flat=True))
    assert kinds == ["opened", "assigned", "commented", "resolved"]


def test_exception_resolve_without_a_reason_explains_itself(client, ap_analyst, failed_tx):
    item = BusinessException.objects.get(transaction=failed_tx)
    login(client, ap_analyst)
    response = client.post(
        reverse("console:exception_action", args=[item.pk]),
        {"action": "resolve", "text": " "},
        follow=True,
    )
    assert "Say why" in response.content.decode()
    item.refresh_from_db()
    assert item.status == "open"


def test_pause_and_resume_need_the_administer_permission(client, ap_analyst, engineer):
    connector = make_webhook()
    url = reverse("console:connector_pause", args=[connector.pk])

    assert login(client, ap_analyst).post(url, {"paused": "true"}).status_code == 403
    assert login(Client(), engineer).post(url, {"paused": "true"}).status_code == 302
    connector.refresh_from_db()
    assert connector.paused


def test_every_mutation_requires_a_csrf_token(engineer, failed_tx):
    client = Client(enforce_csrf_checks=True)
    client.force_login(engineer)
    item = BusinessException.objects.get(transaction=failed_tx)
    mutations = [
        (reverse("console:transaction_replay", args=[failed_tx.pk]), {}),
        (reverse("console:exception_action", args=[item.pk]), {"action": "claim"}),
        (reverse("console:connector_pause", args=[failed_tx.connector_id]), {"paused": "true"}),
        (reverse("accounts:logout"), {}),
    ]
    for url, data in mutations:
        assert client.post(url, data).status_code == 403, url
    failed_tx.refresh_from_db()
    assert failed_tx.status == "exception"


def test_admin_refuses_a_connector_with_a_secret_in_its_settings(client, engineer):
    engineer.is_staff = True
    engineer.save()
    login(client, engineer)
    response = client.post(
        reverse("admin:connectors_connector_add"),
        {
            "name": "Bad",
            "slug": "bad",
            "kind": "webhook_in",
            "format": "json",
            "document_type": "generic.document",
            "enabled": "on",
            "settings": '{"secret": "hunter2"}',
            "rate_limit_burst": 10,
            "timeout_seconds": 10,
            "max_attempts": 8,
            "backoff_base_seconds": 2,
            "backoff_cap_seconds": 300,
            "breaker_threshold": 5,
            "breaker_cooldown_seconds": 30,
            "poll_interval_seconds": 30,
        },
    )
    assert response.status_code == 200
    assert "secrets are never stored here" in response.content.decode()


def test_a_targets_error_text_is_shown_only_to_roles_that_may_see_patient_data(
    client, viewer, engineer, sandbox, sandbox_url
):
    from tests.conftest import make_rest_target

    target = make_rest_target(f"{sandbox_url}/targets/erp/documents")
    source = make_webhook(target)
    receive_json(source, {"id": "A", "reject_reason": "patient Jane Roe MRN 12345 not eligible"})
    work_drain(stage=Stage.PROCESS)
    work_drain(stage=Stage.DELIVER)
    outbound = Transaction.objects.get(direction="out")
    item = BusinessException.objects.get(transaction=outbound)
    pages = [
        reverse("console:transaction_detail", args=[outbound.pk]),
        reverse("console:exception_detail", args=[item.pk]),
        reverse("console:exception_list"),
        reverse("console:home"),
    ]

    login(client, viewer)
    for url in pages:
        assert b"Jane Roe" not in client.get(url).content, url
    engineer_view = login(Client(), engineer).get(pages[0]).content.decode()
    assert "The target said: Rejected: patient Jane Roe MRN 12345 not eligible" in engineer_view


def test_replay_from_the_transaction_page_obeys_the_codes_allowed_actions(
    client, engineer, failed_tx
):
    from apps.exceptions.models import ExceptionCode

    ExceptionCode.objects.filter(code="SCHEMA_INVALID").update(allowed_actions=["resolve"])
    login(client, engineer)
    page = client.get(reverse("console:transaction_detail", args=[failed_tx.pk]))
    assert page.context["can_replay"] is False

    response = client.post(reverse("console:transaction_replay", args=[failed_tx.pk]), follow=True)

    assert "Replay is not allowed for SCHEMA_INVALID" in response.content.decode()
    failed_tx.refresh_from_db()
    assert failed_tx.status == "exception"


@pytest.mark.parametrize(
    "params",
    [{"before": "²"}, {"q": "²"}, {"before": "9" * 40}, {"q": "9" * 40}, {"status": "nonsense"}],
)
def test_hostile_query_strings_never_break_the_lists(client, viewer, failed_tx, params):
    login(client, viewer)
    assert client.get(reverse("console:transaction_list"), params).status_code == 200
    assert client.get(reverse("console:exception_list"), params).status_code == 200
