"""Steward journeys through the master-data admin in headless Chromium (Playwright).

Set HUBCONSOLE_SAVE_SCREENSHOTS=1 to write the screenshots used by docs/master-data.md.
"""

import os
from pathlib import Path

import pytest

from apps.exceptions.catalogue import codes
from apps.exceptions.choices import ExceptionActivityKindChoices
from apps.exceptions.models import BusinessException
from apps.exceptions.services import ExceptionSpec, exceptions_open
from apps.masterdata.lookup import LookupKey
from apps.masterdata.models import CrossReference, ExternalSystem, Supplier
from apps.pipeline.choices import TransactionEventKindChoices
from apps.pipeline.models import Transaction, TransactionEvent, WorkItem
from tests.conftest import make_webhook
from tests.console.test_browser import CHROMIUM, shot, sign_in
from tests.masterdata_admin.conftest import make_xref
from tests.pipeline.builders import receive_json

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI must run the browser tests: install Debian's chromium package")
    pytestmark.append(pytest.mark.skip(reason="Debian's chromium is not installed"))

MISSING = LookupKey("PROCUREMENT", "supplier", "ACME-77")


@pytest.fixture
def unknown_supplier_exceptions(world):
    """Two invoices that failed on the same unknown supplier code, one exception each."""
    webhook = make_webhook()
    transaction_ids = [
        receive_json(webhook, {"id": f"INV-{n}", "supplier": MISSING.code}).transaction_id
        for n in (1, 2)
    ]
    # As a failed processing attempt leaves them: in exception, with no pending work.
    Transaction.objects.filter(pk__in=transaction_ids).update(status="exception")
    WorkItem.objects.filter(transaction_id__in=transaction_ids).delete()
    exceptions_open(
        [
            ExceptionSpec(
                code=codes.SUPPLIER_UNKNOWN,
                summary=f"Unknown supplier {MISSING.code}",
                transaction_id=transaction_id,
                root_cause_key=MISSING.root_cause_key,
            )
            for transaction_id in transaction_ids
        ]
    )
    return transaction_ids


def follow(page, locator) -> None:
    """Click something that loads a new page, and wait until it has loaded."""
    with page.expect_navigation():
        locator.click()


def messages(page) -> list[str]:
    """The admin's messages on the page last loaded."""
    return [text.strip() for text in page.locator("ul.messagelist li").all_inner_texts()]


def run_action(page, row_text: str, action: str) -> None:
    """Tick the row that shows ``row_text`` on a changelist and run an action on it."""
    row = page.locator("#result_list tbody tr").filter(has_text=row_text)
    row.locator("input.action-select").check()
    page.locator("select[name=action]").select_option(label=action)
    follow(page, page.get_by_role("button", name="Run", exact=True))


def sign_out(page) -> None:
    follow(page, page.locator("#logout-form").get_by_role("button", name="Log out"))


def test_a_mapping_proposed_by_one_steward_is_approved_by_another_and_replays_the_exceptions(
    page, live_server, world, steward, second_steward, unknown_supplier_exceptions, tmp_path
):
    admin = f"{live_server.url}/admin/masterdata"
    page.set_viewport_size({"width": 1600, "height": 900})  # the queue's columns and filters
    procurement = ExternalSystem.objects.create(code="PROCUREMENT", name="Procurement suite")
    make_xref(
        author=second_steward,
        target=world["supplier"],
        system=world["erp"],
        code="V-1001",
        status="approved",
        decided_by=steward,
    )

    # Steward 1 proposes the missing mapping.
    sign_in(page, live_server.url, steward.username, "pw-" + steward.username)
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{admin}/crossreference/add/")
    page.locator(".field-external_system .select2-selection").click()
    page.locator(".select2-search__field").fill("PROC")
    page.locator(".select2-results__option", has_text="PROCUREMENT").click()
    page.get_by_label("Entity type").select_option("supplier")
    page.get_by_label("External code").fill(MISSING.code)
    page.get_by_label("Canonical code").fill(world["supplier"].code)
    page.get_by_label("Effective from").fill("2024-01-01")
    page.get_by_label("Note").fill("Seen on procurement invoices; same tax id as S1.")
    follow(page, page.get_by_role("button", name="Save", exact=True))
    assert "Proposed: the mapping is used once another steward approves it." in messages(page)

    follow(page, page.get_by_role("link", name="Waiting for approval (1)"))
    assert page.get_by_role("heading", name="Cross references waiting for approval").is_visible()
    queue = page.locator("#result_list tbody tr")
    assert queue.count() == 1
    assert "PROCUREMENT" in queue.inner_text()
    assert "ACME-77" in queue.inner_text()
    assert "Acme Medical, Inc." in queue.inner_text()

    # The author cannot approve their own change.
    run_action(page, MISSING.code, "Approve")
    (refusal,) = messages(page)
    assert refusal.endswith("You proposed this change; another steward must approve it.")
    draft = CrossReference.objects.get(external_system=procurement)
    assert draft.status == "draft"

    # A second steward approves it and replays what it resolves.
    sign_out(page)
    sign_in(page, live_server.url, second_steward.username, "pw-" + second_steward.username)
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{admin}/")
    follow(page, page.get_by_role("link", name="Cross-references waiting for approval"))
    assert page.locator("#result_list tbody tr").count() == 1
    page.locator("#toggle-nav-sidebar").click()  # room for every column in the screenshot
    shot(page, "masterdata-approval-queue", tmp_path)

    run_action(page, MISSING.code, "Approve")
    shown = messages(page)
    assert "Approved 1 cross reference." in shown
    assert (
        "PROCUREMENT:supplier:ACME-77 resolves 2 open exception(s). Select it and run "
        "“Replay the exceptions this mapping resolves”."
    ) in shown

    follow(page, page.get_by_role("link", name="Select it"))
    run_action(page, MISSING.code, "Replay the exceptions this mapping resolves")
    assert "Replayed 2 exception(s); 0 refused." in messages(page)

    page.goto(f"{admin}/supplier/{world['supplier'].pk}/change/")
    inline = page.locator(".inline-group").filter(has_text="cross-references from other systems")
    assert "Approved" in inline.locator("tbody tr", has_text="PROCUREMENT").inner_text()
    assert inline.locator("tbody tr", has_text="V-1001").is_visible()
    shot(page, "masterdata-record", tmp_path)

    draft.refresh_from_db()
    assert (draft.status, draft.created_by, draft.decided_by) == (
        "approved",
        steward,
        second_steward,
    )
    assert draft.target == world["supplier"]
    for transaction_id in unknown_supplier_exceptions:
        # The replay service queued each transaction again, on behalf of the approver.
        assert Transaction.objects.get(pk=transaction_id).status == "received"
        assert WorkItem.objects.get(transaction_id=transaction_id).actor_id == second_steward.pk
        replayed = TransactionEvent.objects.get(
            transaction_id=transaction_id, kind=TransactionEventKindChoices.REPLAYED
        )
        assert replayed.actor == second_steward
    exceptions = BusinessException.objects.filter(root_cause_key=MISSING.root_cause_key)
    assert exceptions.count() == 2
    for exception in exceptions:
        assert exception.activities.filter(
            kind=ExceptionActivityKindChoices.REPLAY_REQUESTED, actor=second_steward
        ).exists()


SUPPLIERS = (
    "code,name,status,effective_from\n"
    "S2,Beta Surgical,active,2024-01-01\n"
    "S3,Gamma Devices,active,31/12/2024\n"
    "S4,Delta Implants,active,2024-03-01\n"
)


def test_a_steward_imports_only_the_valid_rows_of_a_csv(
    page, live_server, world, steward, tmp_path
):
    csv = tmp_path / "suppliers.csv"
    csv.write_text(SUPPLIERS)
    sign_in(page, live_server.url, steward.username, "pw-" + steward.username)
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/admin/masterdata/supplier/")
    follow(page, page.get_by_role("link", name="Import"))

    page.get_by_label("File to import").set_input_files(csv)
    page.get_by_label("Format").select_option(label="csv")
    follow(page, page.get_by_role("button", name="Submit"))
    invalid = page.locator("#invalid-rows tbody tr")
    assert invalid.count() == 1
    assert invalid.locator("td").first.inner_text() == "3"
    assert "'31/12/2024' is not a date; write it as YYYY-MM-DD." in invalid.inner_text()
    assert page.get_by_text("Nothing will be imported while any row has an error").is_visible()
    assert page.get_by_role("button", name="Confirm import").count() == 0

    page.get_by_label("File to import").set_input_files(csv)
    page.get_by_label("Format").select_option(label="csv")
    page.get_by_label("Import only the valid rows").check()
    follow(page, page.get_by_role("button", name="Submit"))
    assert page.get_by_text("1 row with errors will not be imported").is_visible()
    assert page.locator("#valid-rows tr.new").count() == 2
    follow(page, page.get_by_role("button", name="Confirm import"))

    (message,) = messages(page)
    assert message.startswith("Import finished: 2 new, 0 updated, 0 unchanged suppliers.")
    assert "line 3 (effective_from:" in message
    assert set(Supplier.objects.values_list("code", flat=True)) == {"S1", "S2", "S4"}
