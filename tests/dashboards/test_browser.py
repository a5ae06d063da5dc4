"""The dashboards in headless Chromium (Debian's package, driven by Playwright).

Set HUBCONSOLE_SAVE_SCREENSHOTS=1 to write docs/screens/dashboards.png.
"""

# The page fixture, and the marks: browser and slow, skipped (failing in CI) without chromium.
from tests.console.test_browser import page, pytestmark, shot, sign_in  # noqa: F401
from tests.dashboards.conftest import seed_activity


def test_analyst_opens_the_dashboards_and_switches_to_seven_days(
    page,  # noqa: F811
    live_server,
    connector,
    supplier,
    ap_analyst,
    tmp_path,
):
    seed_activity(connector, supplier, days=7)
    # Nothing on the page (htmx included) may do what the CSP blocks.
    violations = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )

    sign_in(page, live_server.url, ap_analyst.username, "pw-" + ap_analyst.username)
    page.wait_for_url(f"{live_server.url}/")
    page.get_by_role("link", name="Dashboards").click()
    page.wait_for_url(f"{live_server.url}/dashboards/")

    switch = page.get_by_role("navigation", name="Time window")
    assert switch.locator('[aria-current="page"]').inner_text() == "Last 24 hours"
    assert page.locator("svg.chart").count() == 10

    switch.get_by_role("link", name="Last 7 days").click()
    page.wait_for_url("**/dashboards/?window=7d")
    page.wait_for_selector(
        'nav[aria-label="Time window"] a[aria-current="page"]:text("Last 7 days")'
    )
    throughput = page.locator("#chart-throughput")
    assert throughput.locator(".x-ticks text").last.text_content()  # the latest day is named
    # The exact figures are one click away, and the tooltip of a point reads as a sentence.
    throughput.locator("summary").click()
    assert throughput.locator("tbody tr").count() == 7
    assert "Received inbound, " in throughput.locator("circle title").first.text_content()
    assert page.get_by_role("heading", name="Touchless invoices").is_visible()
    assert violations == []

    shot(page, "dashboards", tmp_path)
