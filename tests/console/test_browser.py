"""Browser journeys in headless Chromium (Debian's package, driven by Playwright).

Set HUBCONSOLE_SAVE_SCREENSHOTS=1 to write the screenshots used by the docs into docs/screens/.
"""

import os
import shutil
from pathlib import Path

import pytest
from django.db import connections

from apps.pipeline.choices import WorkStageChoices as Stage
from apps.pipeline.services import work_drain
from tests.conftest import ROOT, make_rest_target, make_webhook, wait_until
from tests.pipeline.builders import receive_json

CHROMIUM = "/usr/bin/chromium"
pytestmark = [pytest.mark.browser, pytest.mark.slow]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI must run the browser tests: install Debian's chromium package")
    pytestmark.append(pytest.mark.skip(reason="Debian's chromium is not installed"))


@pytest.fixture
def page(live_server, tmp_path):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls the test makes
    # around it are still plain synchronous calls.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        browser.close()
        # ORM calls made while Playwright's loop is active get connections of their own
        # context; close them here or they outlive the test database.
        connections.close_all()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def shot(page, name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("HUBCONSOLE_SAVE_SCREENSHOTS"):
        target = ROOT / "docs" / "screens"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / path.name)


def sign_in(page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_engineer_replays_a_rejected_delivery_and_sees_it_resolve(
    page, live_server, sandbox, sandbox_url, start_worker, engineer, tmp_path
):
    target = make_rest_target(f"{sandbox_url}/targets/erp/documents")
    source = make_webhook(target)
    for n in range(3):
        receive_json(source, {"id": f"REQ-10{n}", "po_number": f"PO-90{n}"})
    sandbox.post("/faults", json={"target": "erp", "mode": "reject", "count": 1})
    work_drain(stage=Stage.PROCESS)
    work_drain(stage=Stage.DELIVER)

    sign_in(page, live_server.url, engineer.username, "pw-" + engineer.username)
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_text("stopped with an exception").is_visible()
    shot(page, "overview", tmp_path)

    page.get_by_role("link", name="Transactions").click()
    page.get_by_label("Business key, correlation id or number").fill("PO-901")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**q=PO-901**")
    assert page.locator("tbody tr").count() == 1
    shot(page, "transactions", tmp_path)

    page.get_by_role("link", name="Exceptions").click()
    page.locator("tbody tr a").first.click()
    assert page.get_by_role("heading", name="Rejected by target").is_visible()
    shot(page, "exception", tmp_path)

    start_worker()
    page.get_by_role("button", name="Replay").click()
    assert page.get_by_text("Queued for replay").is_visible()

    def resolved():
        page.reload()
        return page.locator("h1 .badge").inner_text() == "Resolved"

    wait_until(resolved, timeout=30, interval=0.5, message="the replayed exception to resolve")
    timeline = page.locator(".timeline")
    assert timeline.get_by_text("Replay requested.").is_visible()
    assert timeline.get_by_text("Resolved: the transaction succeeded when replayed.").is_visible()


def test_sign_in_with_a_wrong_password_explains_and_stays(page, live_server, viewer):
    sign_in(page, live_server.url, viewer.username, "not-the-password")

    assert page.get_by_role("alert").inner_text().startswith("That user name and password")
    assert "/accounts/login/" in page.url
