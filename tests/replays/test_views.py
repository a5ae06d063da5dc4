"""Bulk replay screens: the permission matrix, the preview page, submit, the job page and its
polling fragments, cancel and resume, and CSRF on every POST."""

import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from apps.replays.models import ReplayJob
from apps.replays.services import replay_job_preview, replay_job_run, replay_job_start

pytestmark = [
    pytest.mark.django_db,
]

HTMX = {"HTTP_HX_REQUEST": "true"}


def new_url(query: str = "kind=exceptions") -> str:
    return f"{reverse('replays:replayjob_new')}?{query}"


@pytest.fixture
def job(make_failed, engineer) -> ReplayJob:
    make_failed(3)
    previewed = replay_job_preview(kind="exceptions", params={}, actor=engineer)
    return replay_job_start(job_id=previewed.pk, actor=engineer, dry_run=False)


def screens(job: ReplayJob) -> dict[str, str]:
    return {
        "history": reverse("replays:replayjob_list"),
        "detail": reverse("replays:replayjob_detail", args=[job.pk]),
        "new": new_url(),
    }


# --- Who sees what -------------------------------------------------------------------------------


def test_anonymous_users_are_sent_to_sign_in(client, job):
    for url in screens(job).values():
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.parametrize(
    ("persona", "readable", "may_replay"),
    [
        ("engineer", True, True),
        ("viewer", True, False),
        ("ap_analyst", True, False),
        ("steward", True, False),
        ("auditor", True, False),
        ("outsider", False, False),
    ],
)
def test_history_is_read_only_for_every_role_and_replaying_needs_bulk_replay(
    client, request, job, persona, readable, may_replay
):
    client.force_login(request.getfixturevalue(persona))
    urls = screens(job)

    for name in ("history", "detail"):
        assert client.get(urls[name]).status_code == (200 if readable else 403), name
    assert client.get(urls["new"]).status_code == (200 if may_replay else 403)
    if readable:
        page = client.get(urls["detail"]).content.decode()
        assert (">Cancel</button>" in page) is may_replay
    for name in ("replayjob_cancel", "replayjob_resume"):
        response = client.post(reverse(f"replays:{name}", args=[job.pk]))
        assert response.status_code == (302 if may_replay else 403), name
    response = client.post(new_url(), {"action": "replay", "rate_per_second": "20"})
    assert response.status_code == (302 if may_replay else 403)
    assert ReplayJob.objects.count() == (2 if may_replay else 1)


# --- The preview page ----------------------------------------------------------------------------


def test_preview_page_says_the_filter_in_words_and_counts_without_writing(
    client, engineer, make_failed
):
    make_failed(4)
    client.force_login(engineer)

    response = client.get(new_url("kind=exceptions&team=integration&code=SCHEMA_INVALID"))

    page = response.content.decode()
    assert response.status_code == 200
    assert "Replay open exceptions in bulk" in page
    assert "<dt>Team</dt><dd>Integration engineering</dd>" in page
    assert "<dt>Code</dt><dd>SCHEMA_INVALID — Schema invalid</dd>" in page
    assert "<dt>Status</dt><dd>Open or in progress</dd>" in page
    assert re.search(r'id="replay-count">4<', page)
    assert "Replay 4 items</button>" in page
    assert ">Dry run</button>" in page
    assert 'name="rate_per_second"' in page
    assert 'href="/exceptions/?team=integration&amp;code=SCHEMA_INVALID&amp;status=active"' in page
    assert not ReplayJob.objects.exists()


def test_preview_page_for_transactions_counts_the_replayable_ones(
    client, engineer, make_failed, source
):
    make_failed(2)
    client.force_login(engineer)

    page = client.get(new_url(f"kind=transactions&connector={source.pk}")).content.decode()

    assert "Replay failed, retrying or waiting transactions in bulk" in page
    assert re.search(r'id="replay-count">2<', page)
    assert "Webhook portal" in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("kind=exceptions&team=nope", "The filter is not valid"),
        ("kind=documents", "Say what to replay"),
        ("", "Say what to replay"),
    ],
)
def test_preview_page_explains_a_bad_filter_and_offers_no_button(
    client, engineer, make_failed, query, message
):
    make_failed(1)
    client.force_login(engineer)

    page = client.get(new_url(query)).content.decode()

    assert message in page
    assert "Dry run" not in page


def test_preview_page_refuses_too_many_items(client, engineer, make_failed, settings):
    make_failed(3)
    settings.HUBCONSOLE = {**settings.HUBCONSOLE, "REPLAY_MAX_ITEMS": 2}
    client.force_login(engineer)

    page = client.get(new_url()).content.decode()

    assert "takes at most 2 items" in page
    assert "Dry run" not in page


def test_submitting_snapshots_starts_and_shows_the_job(
    client, engineer, make_failed, sent_tasks, django_capture_on_commit_callbacks
):
    make_failed(3)
    client.force_login(engineer)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            new_url("kind=exceptions&team=integration&before=999"),
            {"action": "replay", "rate_per_second": "40", "expected": "3"},
        )

    job = ReplayJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("replays:replayjob_detail", args=[job.pk])
    assert (job.status, job.total, job.rate_per_second, job.dry_run) == ("queued", 3, 40, False)
    assert job.filter_params == {"team": "integration", "status": "active"}  # no list cursor
    assert ("replays.run", {"job_id": job.pk}) in sent_tasks
    page = client.get(response["Location"]).content.decode()
    assert "Bulk replay of 3 items queued." in page
    assert 'hx-trigger="every 1s"' in page


def test_the_dry_run_button_starts_a_dry_run(client, engineer, make_failed):
    make_failed(2)
    client.force_login(engineer)

    client.post(new_url(), {"action": "dry_run", "rate_per_second": "20", "expected": "2"})

    assert ReplayJob.objects.get().dry_run is True


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "replay", "rate_per_second": "500"}, "between 1 and 200"),
        ({"action": "replay", "rate_per_second": "fast"}, "whole number from 1 to 200"),
        ({"action": "replay", "rate_per_second": "20", "expected": "1"}, "more than the 1"),
    ],
)
def test_a_refused_submit_goes_back_to_the_preview_with_the_reason(
    client, engineer, make_failed, data, message
):
    make_failed(2)
    client.force_login(engineer)

    response = client.post(new_url("kind=exceptions&team=integration"), data, follow=True)

    assert response.redirect_chain[-1][0] == new_url("kind=exceptions&team=integration")
    assert message in response.content.decode()
    assert not ReplayJob.objects.exists()


# --- The job page and its fragments --------------------------------------------------------------


def test_job_page_polls_its_progress_fragment_while_running(client, engineer, job):
    client.force_login(engineer)
    url = reverse("replays:replayjob_detail", args=[job.pk])

    fragment = client.get(url, **HTMX)

    body = fragment.content.decode()
    assert fragment.status_code == 200
    assert "HX-Request" in fragment["Vary"]
    assert body.lstrip().startswith('<section class="card replay-progress" id="replay-progress"')
    assert 'hx-trigger="every 1s"' in body
    assert '<progress id="replay-bar" value="0" max="3"' in body
    assert "0 / 3" in body
    assert "<html" not in body
    assert "HX-Trigger" not in fragment


def test_the_last_poll_stops_polling_and_refreshes_the_outcome_table(client, engineer, job):
    replay_job_run(job_id=job.pk)
    client.force_login(engineer)
    url = reverse("replays:replayjob_detail", args=[job.pk])

    fragment = client.get(url, **HTMX)

    body = fragment.content.decode()
    assert "hx-trigger" not in body
    assert '<progress id="replay-bar" value="3" max="3"' in body
    assert "3 / 3" in body
    assert json.loads(fragment["HX-Trigger"]) == {"replayJobFinished": {}}
    page = client.get(url).content.decode()
    assert 'hx-trigger="every 1s"' not in page
    assert page.count('class="badge outcome-replayed"') == 3


def test_outcome_table_is_a_fragment_filterable_by_outcome(client, engineer, job):
    replay_job_run(job_id=job.pk)
    client.force_login(engineer)
    url = reverse("replays:replayjob_detail", args=[job.pk])
    target = {**HTMX, "HTTP_HX_TARGET": "replay-items"}

    replayed = client.get(url, {"outcome": "replayed"}, **target).content.decode()
    refused = client.get(url, {"outcome": "refused"}, **target).content.decode()

    assert replayed.lstrip().startswith('<table class="replay-items">')
    assert replayed.count("Replayed</span>") == 3
    for item in job.items.all():
        assert f'href="/exceptions/{item.target_id}/"' in replayed
        assert f'href="/transactions/{item.transaction_id}/"' in replayed
    assert "No items with this outcome." in refused


def test_outcome_table_pages_by_keyset(client, engineer, make_failed, monkeypatch):
    from apps.replays import views

    make_failed(5)
    monkeypatch.setattr(views, "ITEMS_PAGE_SIZE", 2)
    previewed = replay_job_preview(kind="exceptions", params={}, actor=engineer)
    client.force_login(engineer)
    url = reverse("replays:replayjob_detail", args=[previewed.pk])

    first = client.get(url).context["page"]
    second = client.get(url, {"before": first.next_before}).context["page"]

    ids = [item.pk for item in first.rows + second.rows]
    assert len(ids) == 4
    assert ids == sorted(ids, reverse=True)


def test_job_history_lists_jobs_newest_first(client, viewer, job, engineer, make_failed):
    second = replay_job_preview(kind="transactions", params={"status": "exception"}, actor=engineer)
    client.force_login(viewer)

    page = client.get(reverse("replays:replayjob_list"))
    fragment = client.get(reverse("replays:replayjob_list"), {"kind": "transactions"}, **HTMX)

    assert [row.pk for row in page.context["page"].rows] == [second.pk, job.pk]
    assert "Replay these" not in page.content.decode()  # a viewer is not told to start one
    body = fragment.content.decode()
    assert body.lstrip().startswith("<table>")
    assert f'href="/replays/{second.pk}/"' in body
    assert f'href="/replays/{job.pk}/"' not in body


def test_cancel_from_the_job_page(client, engineer, job):
    client.force_login(engineer)

    response = client.post(reverse("replays:replayjob_cancel", args=[job.pk]), follow=True)

    job.refresh_from_db()
    assert (job.status, job.skipped) == ("cancelled", 3)
    assert "Cancelled: items not yet replayed are skipped." in response.content.decode()


def test_a_finished_job_cannot_be_cancelled_and_says_why(client, engineer, job):
    replay_job_run(job_id=job.pk)
    client.force_login(engineer)

    response = client.post(reverse("replays:replayjob_cancel", args=[job.pk]), follow=True)

    assert "This job is already done." in response.content.decode()


def test_a_failed_job_offers_resume(client, engineer, job):
    ReplayJob.objects.filter(pk=job.pk).update(status="failed", last_error="boom")
    client.force_login(engineer)
    url = reverse("replays:replayjob_detail", args=[job.pk])

    assert ">Resume</button>" in client.get(url).content.decode()
    client.post(reverse("replays:replayjob_resume", args=[job.pk]))

    assert ReplayJob.objects.get(pk=job.pk).status == "queued"


def test_unknown_job_is_404(client, engineer):
    client.force_login(engineer)

    assert client.get(reverse("replays:replayjob_detail", args=[999999])).status_code == 404
    assert client.post(reverse("replays:replayjob_cancel", args=[999999])).status_code == 404


# --- CSRF ----------------------------------------------------------------------------------------


def _csrf_token(client: Client, url: str) -> str:
    page = client.get(url).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def test_every_post_needs_the_csrf_token(engineer, job, make_failed):
    client = Client(enforce_csrf_checks=True)
    client.force_login(engineer)
    detail = reverse("replays:replayjob_detail", args=[job.pk])
    posts = [
        (new_url(), {"action": "replay", "rate_per_second": "20"}),
        (reverse("replays:replayjob_cancel", args=[job.pk]), {}),
        (reverse("replays:replayjob_resume", args=[job.pk]), {}),
    ]

    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    assert ReplayJob.objects.count() == 1
    assert ReplayJob.objects.get(pk=job.pk).status == "queued"

    # With the token the page carries (a form field; htmx sends it as X-CSRFToken), they pass.
    token = _csrf_token(client, new_url())
    response = client.post(
        new_url(), {"action": "replay", "rate_per_second": "20", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302
    response = client.post(
        reverse("replays:replayjob_cancel", args=[job.pk]),
        HTTP_X_CSRFTOKEN=_csrf_token(client, detail),
    )
    assert response.status_code == 302
    assert ReplayJob.objects.get(pk=job.pk).status == "cancelled"
