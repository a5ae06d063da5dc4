"""Browser journey in headless Chromium (Debian's package, driven by Playwright): after an ERP
outage an integration engineer replays 1,000 failed deliveries in bulk, watches the progress
bar advance to the end, and reads every item's outcome.

Set HUBCONSOLE_SAVE_SCREENSHOTS=1 to write docs/screens/bulk-replay.png.
"""

import time
from pathlib import Path

import pytest

from apps.exceptions.models import BusinessException
from apps.pipeline.choices import WorkStageChoices as Stage
from apps.pipeline.models import Transaction
from apps.pipeline.services import work_drain
from apps.replays.models import ReplayJob
from apps.sandbox.models import SandboxPosting
from tests.conftest import make_rest_target, make_webhook, wait_until
from tests.console.test_browser import CHROMIUM, page, shot, sign_in  # noqa: F401 (fixture)
from tests.pipeline.builders import receive_json

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
]
if not Path(CHROMIUM).exists():
    pytestmark.append(pytest.mark.skip(reason="Debian's chromium is not installed"))

COUNT = 1000


@pytest.fixture
def outage(sandbox, sandbox_url):
    """COUNT deliveries the sandbox ERP refused with 503 until their retries ran out."""
    target = make_rest_target(
        f"{sandbox_url}/targets/erp/documents", max_attempts=1, breaker_threshold=100_000
    )
    source = make_webhook(target)
    sandbox.post("/faults", json={"target": "erp", "mode": "status", "status": 503, "count": 10**6})
    for n in range(COUNT):
        receive_json(source, {"id": f"REQ-{n:04d}", "po_number": f"PO-{n:04d}"})
    assert work_drain(stage=Stage.PROCESS) == COUNT
    work_drain(stage=Stage.DELIVER)
    assert (
        BusinessException.objects.filter(code="RETRIES_EXHAUSTED", status="open").count() == COUNT
    )
    assert not SandboxPosting.objects.exists()
    sandbox.delete("/faults")  # the outage is over
    return target


def test_engineer_replays_1000_failed_deliveries_and_watches_them_through(
    page,  # noqa: F811
    live_server,
    outage,
    start_worker,
    engineer,
    tmp_path,
):
    start_worker(queues="maintenance", concurrency=1)
    start_worker(queues="processing,delivery", concurrency=2)
    sign_in(page, live_server.url, engineer.username, "pw-" + engineer.username)
    page.wait_for_url(f"{live_server.url}/")

    # "Replay these…" from the exception list filtered to the outage's code.
    page.goto(f"{live_server.url}/replays/new/?kind=exceptions&code=RETRIES_EXHAUSTED")
    assert page.get_by_role("heading", name="Replay open exceptions in bulk").is_visible()
    assert page.locator(".replay-filter").inner_text().split("\n") == [
        "Code",
        "RETRIES_EXHAUSTED — Retries exhausted",
        "Status",
        "Open or in progress",
    ]
    assert page.locator("#replay-count").inner_text() == str(COUNT)
    page.get_by_label("Throttle").fill("100")
    page.get_by_role("button", name=f"Replay {COUNT} items").click()

    page.wait_for_url("**/replays/*/")
    assert page.get_by_text(f"Bulk replay of {COUNT} items queued.").is_visible()
    bar = page.locator("#replay-bar")
    assert bar.get_attribute("max") == str(COUNT)

    # Watch the bar: its value, read between polls, only ever grows, until it is full.
    seen = []
    deadline = time.monotonic() + 90
    while not seen or seen[-1] < COUNT:
        assert time.monotonic() < deadline, f"the bar stopped at {seen[-1:]}"
        seen.append(int(bar.get_attribute("value")))
        page.wait_for_timeout(300)
    assert seen == sorted(seen)
    rises = sorted(set(seen))
    assert len(rises) >= 4, rises  # about ten seconds at 100 a second, polled every second
    assert page.locator("#replay-done").inner_text() == f"{COUNT} / {COUNT}"
    progress = page.locator("#replay-progress")
    assert progress.locator(".badge").inner_text() == "Done"
    assert page.locator("h1 #replay-status").inner_text() == "Done"  # swapped out of band
    assert progress.get_attribute("hx-trigger") is None  # polling stopped
    assert not progress.get_by_role("button", name="Cancel").count()

    # Every item's outcome: the table reloaded when the job finished.
    rows = page.locator("table.replay-items tbody tr")
    wait_until(
        lambda: rows.first.locator(".badge").inner_text() == "Replayed",
        timeout=10,
        message="the outcome table to reload",
    )
    assert rows.count() == 50
    assert set(rows.locator(".badge").all_inner_texts()) == {"Replayed"}
    counts = dict(
        zip(
            progress.locator(".replay-counts dt").all_inner_texts(),
            progress.locator(".replay-counts dd").all_inner_texts(),
            strict=False,
        )
    )
    assert (counts["Replayed"], counts["Refused"], counts["Skipped"], counts["Pending"]) == (
        str(COUNT),
        "0",
        "0",
        "0",
    )
    job = ReplayJob.objects.get()
    assert (job.status, job.replayed) == ("done", COUNT)

    # The deliveries themselves go out through the worker: each posting arrives once.
    def delivered():
        return SandboxPosting.objects.count() >= COUNT and not (
            BusinessException.objects.filter(status="open").exists()
        )

    wait_until(delivered, timeout=90, interval=0.5, message="every replay to be delivered")
    assert SandboxPosting.objects.count() == COUNT
    assert set(Transaction.objects.filter(direction="out").values_list("status", flat=True)) == {
        "completed"
    }
    page.get_by_role("link", name="Older →").wait_for()
    shot(page, "bulk-replay", tmp_path)

    page.get_by_label("Outcome").select_option("refused")
    page.wait_for_url("**outcome=refused**")
    assert page.get_by_text("No items with this outcome.").is_visible()
    first = rows.first.locator("a").first
    page.get_by_label("Outcome").select_option("replayed")
    page.wait_for_url("**outcome=replayed**")
    first.click()
    assert page.get_by_role("heading", name="Retries exhausted").is_visible()
    assert page.locator("h1 .badge").inner_text() == "Resolved"
