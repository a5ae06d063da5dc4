"""Bulk replay screens: preview and start, the job with its live progress, and the history.

Thin views: each checks permission, calls one service or selector, and renders. The job page
is one URL for the page and its two fragments (progress, polled every second while the job
runs; the outcome table, when the request targets it).
"""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView
from django_htmx.http import trigger_client_event

from apps.core.errors import HubError
from apps.core.htmx import HtmxFragmentMixin
from apps.core.pagination import keyset_page
from apps.replays.choices import ReplayJobKindChoices, ReplayJobStatusChoices
from apps.replays.filtersets import ReplayJobFilterSet, ReplayJobItemFilterSet
from apps.replays.models import RATE_DEFAULT, RATE_MAX, ReplayJob
from apps.replays.selectors import (
    BULK_PERMISSION,
    VIEW_PERMISSIONS,
    replay_job_filter_words,
    replay_job_get,
    replay_job_item_list,
    replay_job_list,
    replay_job_progress,
    replay_preview,
)
from apps.replays.services import (
    replay_job_cancel,
    replay_job_resume,
    replay_job_stalled,
    replay_job_submit,
)

PAGE_SIZE = 50
ITEMS_PAGE_SIZE = 50
ITEMS_TARGET = "replay-items"  # the outcome table's element id (HX-Target of its requests)
FINISHED_EVENT = "replayJobFinished"  # tells the outcome table to refresh once


def list_url(kind: str, params: dict) -> str:
    """The list screen showing what a filter matches (the page "Replay these…" came from)."""
    name = (
        "console:exception_list"
        if kind == ReplayJobKindChoices.EXCEPTIONS
        else "console:transaction_list"
    )
    query = urlencode({k: v for k, v in params.items() if v != ""})
    return reverse(name) + (f"?{query}" if query else "")


class ReplayView(LoginRequiredMixin, PermissionRequiredMixin, HtmxFragmentMixin, TemplateView):
    """Base of the bulk replay screens: signed in, and holding the screen's permission."""


class ReplayJobListView(ReplayView):
    permission_required = VIEW_PERMISSIONS
    template_name = "replays/replayjob_list.html"
    fragment_template_name = "replays/partials/replayjob_table.html"

    def get_context_data(self, **kwargs):
        filterset = ReplayJobFilterSet(self.request.GET, queryset=replay_job_list())
        return {
            **super().get_context_data(**kwargs),
            "filterset": filterset,
            "page": keyset_page(filterset.qs, params=self.request.GET, size=PAGE_SIZE),
            "can_bulk_replay": self.request.user.has_perm(BULK_PERMISSION),
        }


class ReplayJobCreateView(ReplayView):
    """``/replays/new/?kind=exceptions&<the list's filters>``: the filter in words and the
    count (read-only); its form POSTs to the same URL, which snapshots and starts the job."""

    permission_required = BULK_PERMISSION
    template_name = "replays/replayjob_new.html"

    def get_context_data(self, **kwargs):
        kind = self.request.GET.get("kind", "")
        context = {
            **super().get_context_data(**kwargs),
            "rate_default": RATE_DEFAULT,
            "rate_max": RATE_MAX,
        }
        try:
            preview = replay_preview(kind=kind, params=self.request.GET)
        except HubError as error:
            return {**context, "kind_error": error.message}
        return {**context, "preview": preview, "list_url": list_url(kind, preview.params)}

    def post(self, request, *args, **kwargs):
        again = HttpResponseRedirect(request.get_full_path())
        try:
            rate = int(request.POST.get("rate_per_second") or RATE_DEFAULT)
            expected = int(request.POST["expected"]) if request.POST.get("expected") else None
        except ValueError:
            messages.error(request, f"The throttle must be a whole number from 1 to {RATE_MAX}.")
            return again
        try:
            job = replay_job_submit(
                kind=request.GET.get("kind", ""),
                params=request.GET,
                actor=request.user,
                dry_run=request.POST.get("action") == "dry_run",
                rate_per_second=rate,
                expected_count=expected,
            )
        except HubError as error:
            messages.error(request, error.message)
            return again
        if expected is not None and job.total < expected:
            messages.info(
                request,
                f"{expected - job.total} of the {expected} items previewed were no longer "
                f"replayable; the job has the other {job.total}.",
            )
        what = "Dry run" if job.dry_run else "Bulk replay"
        messages.success(request, f"{what} of {job.total} items queued.")
        return HttpResponseRedirect(reverse("replays:replayjob_detail", args=[job.pk]))


class ReplayJobDetailView(ReplayView):
    permission_required = VIEW_PERMISSIONS
    template_name = "replays/replayjob_detail.html"

    def get_template_names(self) -> list[str]:
        htmx = self.request.htmx
        if htmx and htmx.target == ITEMS_TARGET:
            return ["replays/partials/replayjob_items.html"]
        if htmx:
            return ["replays/partials/replayjob_progress.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs):
        try:
            job = replay_job_get(job_id=kwargs["pk"])
        except ReplayJob.DoesNotExist:
            raise Http404("No such replay job.") from None
        user = self.request.user
        may_act = user.has_perm(BULK_PERMISSION)
        context = {
            **super().get_context_data(**kwargs),
            "job": job,
            "progress": replay_job_progress(job),
            "polling": job.status
            in (ReplayJobStatusChoices.QUEUED, ReplayJobStatusChoices.RUNNING),
            "can_cancel": may_act and job.is_active,
            "can_resume": may_act and replay_job_stalled(job),
            "items_target": ITEMS_TARGET,
        }
        htmx = self.request.htmx
        if not htmx or htmx.target == ITEMS_TARGET:
            items = ReplayJobItemFilterSet(
                self.request.GET, queryset=replay_job_item_list(job_id=job.pk)
            )
            context.update(
                items=items,
                page=keyset_page(items.qs, params=self.request.GET, size=ITEMS_PAGE_SIZE),
            )
        if not htmx:
            context.update(
                words=replay_job_filter_words(job),
                list_url=list_url(job.kind, job.filter_params),
                new_url=reverse("replays:replayjob_new")
                + "?"
                + urlencode({"kind": job.kind, **job.filter_params}),
                can_start=may_act,
            )
        return context

    def render_to_response(self, context, **kwargs):
        response = super().render_to_response(context, **kwargs)
        htmx = self.request.htmx
        if htmx and htmx.target != ITEMS_TARGET and not context["polling"]:
            # The last poll: the panel comes back without its trigger (polling stops) and the
            # outcome table reloads once with the final outcomes.
            trigger_client_event(response, FINISHED_EVENT)
        return response


class ReplayJobCancelView(LoginRequiredMixin, PermissionRequiredMixin, View):
    permission_required = BULK_PERMISSION

    def post(self, request, pk: int):
        try:
            replay_job_cancel(job_id=pk, actor=request.user)
            messages.success(request, "Cancelled: items not yet replayed are skipped.")
        except ReplayJob.DoesNotExist:
            raise Http404("No such replay job.") from None
        except HubError as error:
            messages.error(request, error.message)
        return HttpResponseRedirect(reverse("replays:replayjob_detail", args=[pk]))


class ReplayJobResumeView(LoginRequiredMixin, PermissionRequiredMixin, View):
    permission_required = BULK_PERMISSION

    def post(self, request, pk: int):
        try:
            replay_job_resume(job_id=pk, actor=request.user)
            messages.success(request, "Queued again: it carries on with the items not yet done.")
        except ReplayJob.DoesNotExist:
            raise Http404("No such replay job.") from None
        except HubError as error:
            messages.error(request, error.message)
        return HttpResponseRedirect(reverse("replays:replayjob_detail", args=[pk]))
