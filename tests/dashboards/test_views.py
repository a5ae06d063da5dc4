"""The dashboards screen: permissions, page and fragment, windows, hostile input, the CSP."""

import re

import pytest
from django.urls import reverse

from tests.core import test_security_headers as security
from tests.dashboards.conftest import seed_activity

pytestmark = pytest.mark.django_db

URL = "/dashboards/"
CHART_IDS = [
    "throughput",
    "latency",
    "queue-now",
    "backlog",
    "exceptions-code",
    "exceptions-team",
    "exceptions-supplier",
    "exceptions-facility",
    "touchless",
    "duplicates",
]


@pytest.fixture
def activity(connector, supplier):
    return seed_activity(connector, supplier, days=2)


def test_dashboard_url_is_under_dashboards():
    assert reverse("dashboards:dashboard") == URL


def test_dashboard_sends_anonymous_users_to_sign_in(client):
    response = client.get(URL, {"window": "7d"})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_dashboard_refuses_a_user_without_a_role(client, outsider):
    client.force_login(outsider)

    assert client.get(URL).status_code == 403
    assert client.get(URL, headers={"HX-Request": "true"}).status_code == 403


def test_dashboard_every_role_reads_page_and_fragment(client, role_member):
    client.force_login(role_member)

    page = client.get(URL)
    fragment = client.get(URL, headers={"HX-Request": "true"})

    assert page.status_code == 200
    assert b"<html" in page.content
    assert b'href="/static/css/dashboards.css"' in page.content
    assert fragment.status_code == 200
    assert b"<html" not in fragment.content
    assert b'class="window-switch"' in fragment.content
    assert "HX-Request" in page["Vary"]
    assert "HX-Request" in fragment["Vary"]


def test_dashboard_is_in_the_navigation_of_people_who_may_read_it(client, viewer):
    client.force_login(viewer)
    html = client.get(reverse("console:home")).content.decode()

    assert f'<a href="{URL}" >Dashboards</a>' in html


def test_dashboard_navigation_marks_the_current_page(client, viewer):
    client.force_login(viewer)
    html = client.get(URL).content.decode()

    assert f'<a href="{URL}" aria-current="page">Dashboards</a>' in html


def current_window(html: str) -> str:
    (key,) = re.findall(r'\?window=([a-z0-9]+)"[^>]*aria-current="page"', html)
    return key


@pytest.mark.parametrize(("key", "buckets"), [("24h", 24), ("7d", 7), ("30d", 30)])
def test_dashboard_switches_window_from_the_query_string(client, viewer, activity, key, buckets):
    client.force_login(viewer)

    page = client.get(URL, {"window": key})
    fragment = client.get(URL, {"window": key}, headers={"HX-Request": "true"})

    for response in (page, fragment):
        panels = response.context["panels"]
        assert panels.window.key == key
        assert len(panels.window.starts) == buckets
        assert current_window(response.content.decode()) == key
        throughput = panels.sections[0].charts[0]
        assert len(throughput.table.rows) == buckets


def test_dashboard_window_links_work_with_and_without_htmx(client, viewer):
    client.force_login(viewer)
    html = client.get(URL).content.decode()

    for key in ("24h", "7d", "30d"):
        assert f'href="{URL}?window={key}" hx-get="{URL}?window={key}"' in html
    assert 'hx-target="#dashboard"' in html
    assert 'hx-push-url="true"' in html


@pytest.mark.parametrize(
    "query",
    [
        "window=1y",
        "window=",
        "window=%3Cscript%3Ealert(1)%3C/script%3E",
        "window=7d%00",
        "window=7d&window=30d'--",
        "window[]=7d",
        "window=" + "9" * 5000,
        "window=%ff%fe",
        "window=30D",
        "other=1&window=../../etc/passwd",
    ],
)
def test_dashboard_hostile_query_strings_fall_back_to_the_default_window(client, viewer, query):
    client.force_login(viewer)

    response = client.get(f"{URL}?{query}")

    assert response.status_code == 200
    assert response.context["panels"].window.key == "24h"
    assert b"<script>alert" not in response.content


def test_dashboard_last_value_of_a_repeated_window_wins(client, viewer):
    client.force_login(viewer)

    response = client.get(f"{URL}?window=24h&window=7d")

    assert response.context["panels"].window.key == "7d"


def test_dashboard_without_data_says_nothing_in_this_window(client, viewer):
    client.force_login(viewer)

    html = client.get(URL).content.decode()

    assert html.count("Nothing in this window.") == len(CHART_IDS) - 1
    assert "Nothing waiting now." in html
    assert "<svg" not in html
    assert "<details" not in html


def test_dashboard_draws_every_chart_with_title_axes_legend_tooltips_and_figures(
    client, viewer, activity
):
    client.force_login(viewer)

    html = client.get(URL, {"window": "7d"}).content.decode()

    assert "Nothing in this window." not in html
    for chart_id in CHART_IDS:
        figure = re.search(rf'<figure[^>]*id="chart-{chart_id}".*?</figure>', html, re.S)
        assert figure, chart_id
        body = figure.group(0)
        assert re.search(r"<h3 [^>]*>[^<]+</h3>", body), chart_id
        assert '<svg class="chart' in body, chart_id
        assert 'role="img"' in body, chart_id
        assert body.count('class="axis-label"') == 2, chart_id
        assert '<ul class="legend"' in body, chart_id
        assert re.search(r"<(rect|circle) [^>]*><title>[^<]+: [^<]+</title>", body), chart_id
        assert "<details" in body, chart_id
        assert "<table>" in body, chart_id


def test_dashboard_figures_table_holds_the_exact_numbers(client, viewer, activity):
    client.force_login(viewer)

    response = client.get(URL, {"window": "7d"})

    flow = response.context["panels"].sections[0].charts[0]
    dashboard_received = sum(
        int(row[1].replace(",", "")) + int(row[3].replace(",", "")) for row in flow.table.rows
    )
    assert dashboard_received == len(activity)
    assert flow.table.columns == [
        "Day",
        "Received inbound",
        "Completed inbound",
        "Received outbound",
        "Completed outbound",
    ]


def test_dashboard_page_holds_nothing_the_csp_would_block(client, viewer, activity):
    client.force_login(viewer)

    page = client.get(URL, {"window": "30d"})

    assert page.status_code == 200
    assert "<svg" in page.content.decode()
    security.test_security_csp_allows_only_this_site(page)
    security.test_security_console_pages_hold_nothing_the_csp_would_block(page)


def test_dashboard_fragment_holds_nothing_the_csp_would_block(client, viewer, activity):
    client.force_login(viewer)

    html = client.get(URL, headers={"HX-Request": "true"}).content.decode()

    assert "<svg" in html
    assert "<script" not in html
    assert "<style" not in html
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    assert not re.search(r'\sstyle="', html), "inline style attribute"


def test_dashboard_queries_do_not_grow_with_rows(
    client, viewer, activity, django_assert_max_num_queries
):
    client.force_login(viewer)

    with django_assert_max_num_queries(12):
        client.get(URL, {"window": "30d"})
