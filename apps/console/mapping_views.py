"""Fixing a missing mapping from the console: propose it for a root cause, approve it (another
steward) and replay every exception it resolves."""

import datetime

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.http import urlencode
from django.views import View

from apps.console.views import ConsoleView
from apps.core.errors import HubError
from apps.exceptions.selectors import open_count_for_root_cause, root_cause_parts
from apps.masterdata.models import CrossReference
from apps.masterdata.selectors import mapping_candidates, mapping_drafts, mapping_record
from apps.masterdata.services.mappings import (
    crossref_approve_and_replay,
    crossref_propose_for_root_cause,
)


def _default_start() -> datetime.date:
    """A mapping fixed from the console is valid from the start of the year by default, so
    documents dated before today (the POs and invoices that failed) resolve with it."""
    return timezone.localdate().replace(month=1, day=1)


def _fix_url(key: str) -> str:
    return f"{reverse('console:fix_mapping')}?{urlencode({'key': key})}"


class FixMappingView(ConsoleView):
    """One root cause: what is missing, how many exceptions wait on it, the proposals already
    made, and a form to propose the mapping (inbound: choose the record an unknown code
    stands for; outbound: type the code the record has in the other system)."""

    permission_required = "accounts.fix_mapping"
    template_name = "console/fix_mapping.html"
    fragment_template_name = "console/partials/mapping_candidates.html"

    def _root_cause(self, key: str) -> tuple[dict, object]:
        """What the key names, and the record it is about when a record has no code in
        another system (None for an unknown external code)."""
        parts = root_cause_parts(key)
        if not parts.get("mapping_fix"):
            raise Http404("This root cause is not fixed by a mapping.")
        record = (
            mapping_record(entity_type=parts["entity_type"], code=parts["record_code"])
            if parts["record_code"]
            else None
        )
        return parts, record

    def get_context_data(self, **kwargs):
        key = self.request.GET.get("key") or self.request.POST.get("key", "")
        parts, record = self._root_cause(key)
        term = self.request.GET.get("q", "")
        return {
            **super().get_context_data(**kwargs),
            "key": key,
            "parts": parts,
            "record": record,
            "open_count": open_count_for_root_cause(key),
            "drafts": mapping_drafts(
                entity_type=parts["entity_type"],
                system=parts["system"],
                external_code=parts["external_code"],
                target=record,
            ),
            "term": term,
            "candidates": mapping_candidates(entity_type=parts["entity_type"], term=term),
            "can_approve": self.request.user.has_perm("accounts.approve_mapping"),
            "default_start": _default_start(),
        }

    def post(self, request):
        key = request.POST.get("key", "")
        parts, target = self._root_cause(key)
        if target is None:
            target = mapping_record(entity_type=parts["entity_type"], pk=request.POST.get("record"))
        try:
            xref = crossref_propose_for_root_cause(
                actor=request.user,
                root_cause_key=key,
                target=target,
                external_code=request.POST.get("external_code", ""),
                note=request.POST.get("note", ""),
                effective_from=parse_date(request.POST.get("effective_from") or "")
                or _default_start(),
            )
        except (HubError, ValueError) as error:
            messages.error(request, getattr(error, "message", "Valid from is not a date."))
        else:
            messages.success(
                request,
                f"Proposed: {parts['system']} {xref.external_code} → {target.code}. Another "
                "steward approves it here; its exceptions then replay.",
            )
        return HttpResponseRedirect(_fix_url(key))


class FixMappingApproveView(LoginRequiredMixin, PermissionRequiredMixin, View):
    """Approve a proposal (never one's own) and replay the exceptions it resolves."""

    permission_required = ("accounts.approve_mapping", "accounts.replay")

    def post(self, request, pk: int):
        xref = get_object_or_404(CrossReference, pk=pk)
        key = request.POST.get("key", "")
        try:
            outcome = crossref_approve_and_replay(
                xref_id=xref.pk, actor=request.user, reason=request.POST.get("reason", "")
            )
        except HubError as error:
            messages.error(request, error.message)
            return HttpResponseRedirect(_fix_url(key) if key else reverse("console:home"))
        message = f"Approved; replayed {len(outcome.replayed)} exception(s)"
        if outcome.refused:
            message += f", {len(outcome.refused)} refused ({next(iter(outcome.refused.values()))})"
        messages.success(request, message + ". They clear as their replays succeed.")
        return HttpResponseRedirect(reverse("console:exception_group_list"))
