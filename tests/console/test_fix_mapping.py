"""Fixing a missing mapping from the console: propose for a root cause, approve (another
steward), replay every exception of the group; and the browser journey of it."""

import os
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils.http import urlencode

from apps.exceptions.models import BusinessException
from apps.masterdata.models import CrossReference
from apps.p2p.models import PurchaseOrder
from apps.pipeline.choices import WorkStageChoices as Stage
from apps.pipeline.services import work_drain
from tests.conftest import _persona
from tests.console.test_browser import CHROMIUM, page, shot, sign_in  # noqa: F401 (fixture)
from tests.p2p.conftest import network, po_document  # noqa: F401 (fixture)
from tests.pipeline.builders import receive_json

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "supplier:PROCUREMENT:ACME-77"


@pytest.fixture
def second_steward(db):
    from apps.accounts import roles

    return _persona("sam", roles.DATA_STEWARD)


@pytest.fixture
def unknown_supplier(network):  # noqa: F811
    """Two POs from a supplier code procurement uses but nobody mapped: one root cause."""
    for number in ("PO-77", "PO-78"):
        receive_json(network["procurement_in"], po_document(number, supplier="ACME-77"), key=number)
    work_drain(stage=Stage.PROCESS)
    items = BusinessException.objects.filter(root_cause_key=KEY, status="open")
    assert items.count() == 2
    return list(items)


def fix_url(**params) -> str:
    return f"{reverse('console:fix_mapping')}?{urlencode({'key': KEY, **params})}"


def test_the_fix_page_says_what_is_missing_and_finds_candidates(client, steward, unknown_supplier):
    client.force_login(steward)

    html = client.get(fix_url(q="acme")).content.decode()

    assert "ACME-77" in html
    assert "<strong>2</strong> open exceptions" in html
    assert "SUP-1" in html  # Acme Medical, by name
    fragment = client.get(fix_url(q="SUP-1"), headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in fragment
    assert "SUP-1" in fragment


def test_propose_approve_by_another_steward_replays_and_clears_the_group(
    client,
    steward,
    second_steward,
    unknown_supplier,
    network,  # noqa: F811
):
    client.force_login(steward)
    response = client.post(
        reverse("console:fix_mapping"),
        {"key": KEY, "record": network["supplier"].pk, "note": "Acme's new procurement code"},
        follow=True,
    )
    assert "Proposed: PROCUREMENT ACME-77 → SUP-1" in response.content.decode()
    xref = CrossReference.objects.get(external_code="ACME-77")
    assert (xref.status, xref.created_by) == ("draft", steward)
    for item in unknown_supplier:
        assert item.activities.filter(kind="mapping_proposed", actor=steward).exists()

    own = client.post(reverse("console:fix_mapping_approve", args=[xref.pk]), {"key": KEY})
    assert own.status_code == 302
    xref.refresh_from_db()
    assert xref.status == "draft"  # maker-checker: not one's own

    client.force_login(second_steward)
    done = client.post(
        reverse("console:fix_mapping_approve", args=[xref.pk]), {"key": KEY}, follow=True
    )
    assert "Approved; replayed 2 exception(s)" in done.content.decode()
    work_drain(stage=Stage.PROCESS)

    assert not BusinessException.objects.filter(root_cause_key=KEY, status="open").exists()
    assert set(PurchaseOrder.objects.values_list("po_number", flat=True)) == {"PO-77", "PO-78"}


def test_an_outbound_gap_asks_for_the_code_in_the_other_system(client, steward, network):  # noqa: F811
    CrossReference.objects.filter(external_system__code="ERP", entity_type="supplier").delete()
    receive_json(network["procurement_in"], po_document(), key="po")
    work_drain(stage=Stage.PROCESS)
    key = "supplier:ERP:->SUP-1"
    client.force_login(steward)
    url = f"{reverse('console:fix_mapping')}?{urlencode({'key': key})}"

    assert 'name="external_code"' in client.get(url).content.decode()
    client.post(reverse("console:fix_mapping"), {"key": key, "external_code": "V0009"})

    xref = CrossReference.objects.get(external_code="V0009")
    assert xref.target == network["supplier"]
    assert xref.status == "draft"


@pytest.mark.parametrize("persona", ["viewer", "ap_analyst", "engineer"])
def test_only_stewards_fix_mappings(client, request, persona, unknown_supplier, network):  # noqa: F811
    client.force_login(request.getfixturevalue(persona))

    assert client.get(fix_url()).status_code == 403
    response = client.post(
        reverse("console:fix_mapping"), {"key": KEY, "record": network["supplier"].pk}
    )

    assert response.status_code == 403
    assert not CrossReference.objects.filter(external_code="ACME-77").exists()


def test_a_key_that_no_mapping_fixes_is_not_found(client, steward, db):
    client.force_login(steward)

    assert client.get(f"{reverse('console:fix_mapping')}?key=po:PO-1").status_code == 404
    assert client.get(reverse("console:fix_mapping")).status_code == 404


def test_the_group_row_and_the_exception_link_to_the_fix(client, steward, unknown_supplier):
    client.force_login(steward)

    groups = client.get(reverse("console:exception_group_list")).content.decode()
    detail = client.get(
        reverse("console:exception_detail", args=[unknown_supplier[0].pk])
    ).content.decode()

    assert "Fix the mapping" in groups
    assert "fix-mapping/?key=supplier%3APROCUREMENT%3AACME-77" in groups
    assert "Fix the mapping" in detail


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="no Debian chromium"
)
def test_steward_fixes_an_unknown_supplier_and_the_group_replays_and_clears(
    page,  # noqa: F811
    live_server,
    tmp_path,
    steward,
    second_steward,
    unknown_supplier,
):
    base = live_server.url
    sign_in(page, base, "erin", "pw-erin")
    page.goto(f"{base}/exceptions/groups/")
    row = page.get_by_role("row", name="ACME-77")
    assert row.get_by_role("cell").first.inner_text().strip() == "2"
    row.get_by_role("link", name="Fix the mapping").click()
    page.get_by_label("Find the supplier ACME-77 stands for").fill("Acme")
    page.get_by_label("SUP-1 Acme Medical, Inc.").check()  # htmx filled the candidates
    page.get_by_label("Note for the approver").fill("New procurement code of Acme")
    page.get_by_role("button", name="Propose for approval").click()
    page.get_by_text("Proposed: PROCUREMENT ACME-77 → SUP-1").wait_for()
    assert page.get_by_text("your proposal: another steward approves it").is_visible()
    shot(page, "console-fix-mapping", tmp_path)
    page.get_by_role("button", name="Log out").click()

    sign_in(page, base, "sam", "pw-sam")
    page.goto(f"{base}/exceptions/groups/")
    page.get_by_role("row", name="ACME-77").get_by_role("link", name="Fix the mapping").click()
    page.get_by_role("button", name="Approve and replay 2").click()
    page.get_by_text("Approved; replayed 2 exception(s)").wait_for()

    work_drain(stage=Stage.PROCESS)  # what the processing worker does with the replays
    page.reload()
    assert page.get_by_role("row", name="ACME-77").count() == 0
    assert not BusinessException.objects.filter(root_cause_key=KEY, status="open").exists()
    assert PurchaseOrder.objects.filter(po_number__in=["PO-77", "PO-78"]).count() == 2
