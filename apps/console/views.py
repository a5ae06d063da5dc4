"""Console screens: thin views that check permission, call one selector or service, render."""

import json

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from apps.connectors.models import Connector
from apps.connectors.selectors import connector_figures, connector_list
from apps.connectors.services import connector_set_paused
from apps.console.search import business_key_search
from apps.core.errors import HubError
from apps.core.htmx import HtmxFragmentMixin
from apps.core.masking import mask_payload
from apps.core.pagination import keyset_page
from apps.exceptions.choices import OPEN_STATUSES
from apps.exceptions.filtersets import ACTIVE, BusinessExceptionFilterSet
from apps.exceptions.models import BusinessException
from apps.exceptions.selectors import (
    exception_activities,
    exception_get,
    exception_groups,
    exception_list,
    exception_workload,
    open_exceptions_by_team,
    root_cause_parts,
)
from apps.exceptions.services import (
    exception_assign,
    exception_comment,
    exception_hold,
    exception_ignore,
    exception_release,
    exception_resolve,
)
from apps.p2p.models import Invoice
from apps.p2p.selectors import invoice_match_context
from apps.p2p.services.variances import invoice_variance_accept
from apps.pipeline.filtersets import TransactionFilterSet
from apps.pipeline.models import Transaction
from apps.pipeline.selectors import (
    pipeline_overview,
    transaction_can_edit,
    transaction_can_replay,
    transaction_edits,
    transaction_events,
    transaction_get,
    transaction_lineage,
    transaction_list,
)
from apps.pipeline.services import (
    exception_reject,
    exception_replay,
    transaction_replay,
)

PAGE_SIZE = 50
# Codes whose exception screen shows the invoice beside its PO and receipts.
MATCH_CODES = frozenset({"PRICE_VARIANCE", "QTY_VARIANCE", "AMOUNT_VARIANCE", "TAX_VARIANCE"})


class ConsoleView(LoginRequiredMixin, PermissionRequiredMixin, HtmxFragmentMixin, TemplateView):
    """Base of every console screen: signed in, and holding the screen's permission."""


class HomeView(ConsoleView):
    permission_required = "pipeline.view_transaction"
    template_name = "console/home.html"
    fragment_template_name = "console/partials/home_panels.html"

    def get_context_data(self, **kwargs):
        now = timezone.now()
        return {
            **super().get_context_data(**kwargs),
            "overview": pipeline_overview(),
            "teams": open_exceptions_by_team(),
            "connectors": connector_list(),
            "recent_exceptions": exception_list().filter(status__in=OPEN_STATUSES)[:10],
            "now": now,
            "work": exception_workload(user=self.request.user, now=now)
            if self.request.user.has_perm("exceptions.view_businessexception")
            else None,
        }


class TransactionListView(ConsoleView):
    permission_required = "pipeline.view_transaction"
    template_name = "console/transaction_list.html"
    fragment_template_name = "console/partials/transaction_table.html"

    def get_context_data(self, **kwargs):
        filterset = TransactionFilterSet(self.request.GET, queryset=transaction_list())
        return {
            **super().get_context_data(**kwargs),
            "filterset": filterset,
            "page": keyset_page(filterset.qs, params=self.request.GET, size=PAGE_SIZE),
        }


def _payload_text(raw: bytes) -> str:
    """Readable text of a payload: JSON pretty-printed, other text decoded as sent."""
    for encoding in ("utf-8-sig", "utf-16", "latin-1"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


class TransactionDetailView(ConsoleView):
    permission_required = "pipeline.view_transaction"
    template_name = "console/transaction_detail.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        can_see_payload = user.has_perm("accounts.view_payload")
        try:
            tx = transaction_get(transaction_id=kwargs["pk"], with_raw=can_see_payload)
        except Transaction.DoesNotExist:
            raise Http404("No such transaction.") from None
        return {
            **super().get_context_data(**kwargs),
            "tx": tx,
            "events": transaction_events(transaction_id=tx.pk),
            "lineage": transaction_lineage(transaction=tx),
            "exceptions": exception_list().filter(transaction=tx),
            "now": timezone.now(),
            "can_see_payload": can_see_payload,
            "payload": mask_payload(_payload_text(bytes(tx.edited or tx.raw)), format=tx.format)
            if can_see_payload
            else None,
            "can_replay": transaction_can_replay(transaction=tx, user=user),
            "can_edit": transaction_can_edit(transaction=tx, user=user),
            "edits": transaction_edits(transaction_id=tx.pk) if can_see_payload else [],
        }


class TransactionReplayView(LoginRequiredMixin, PermissionRequiredMixin, View):
    permission_required = "accounts.replay"

    def post(self, request, pk: int):
        try:
            transaction_replay(transaction_id=pk, actor=request.user)
            messages.success(request, f"Transaction {pk} queued for replay.")
        except Transaction.DoesNotExist:
            raise Http404("No such transaction.") from None
        except HubError as error:
            messages.error(request, error.message)
        return HttpResponseRedirect(reverse("console:transaction_detail", args=[pk]))


class ExceptionListView(ConsoleView):
    permission_required = "exceptions.view_businessexception"
    template_name = "console/exception_list.html"
    fragment_template_name = "console/partials/exception_table.html"

    def get_context_data(self, **kwargs):
        data = self.request.GET.copy()
        data.setdefault("status", ACTIVE)
        filterset = BusinessExceptionFilterSet(
            data, queryset=exception_list().select_related("sla")
        )
        return {
            **super().get_context_data(**kwargs),
            "filterset": filterset,
            "page": keyset_page(filterset.qs, params=self.request.GET, size=PAGE_SIZE),
            "now": timezone.now(),
        }


class ExceptionGroupListView(ConsoleView):
    """Root causes: open exceptions with the same code and missing key as one row each."""

    permission_required = "exceptions.view_businessexception"
    template_name = "console/exception_groups.html"

    def get_context_data(self, **kwargs):
        data = self.request.GET.copy()
        data["status"] = ACTIVE
        filterset = BusinessExceptionFilterSet(data, queryset=exception_list())
        return {
            **super().get_context_data(**kwargs),
            "filterset": filterset,
            "groups": exception_groups(filterset.qs),
            "can_fix_mapping": self.request.user.has_perm("accounts.fix_mapping"),
        }


class ExceptionDetailView(ConsoleView):
    permission_required = "exceptions.view_businessexception"
    template_name = "console/exception_detail.html"

    def get_context_data(self, **kwargs):
        try:
            item = exception_get(exception_id=kwargs["pk"])
        except BusinessException.DoesNotExist:
            raise Http404("No such exception.") from None
        user = self.request.user
        tx = item.transaction
        match = None
        if tx is not None and item.code_id in MATCH_CODES:
            match = invoice_match_context(transaction_id=tx.pk, user=user)
        return {
            **super().get_context_data(**kwargs),
            "item": item,
            "match": match,
            "activities": exception_activities(exception_id=item.pk),
            "can_work": user.has_perm("exceptions.change_businessexception") and item.is_open,
            "can_replay": item.is_open
            and tx is not None
            and transaction_can_replay(transaction=tx, user=user),
            "actions": set(item.code.allowed_actions),
            "can_edit": item.is_open
            and tx is not None
            and transaction_can_edit(transaction=tx, user=user),
            "mapping": root_cause_parts(item.root_cause_key) if item.root_cause_key else {},
            "can_fix_mapping": user.has_perm("accounts.fix_mapping"),
        }


class ExceptionActionView(LoginRequiredMixin, PermissionRequiredMixin, View):
    """One POST endpoint per exception for the work actions; each calls one service."""

    permission_required = "exceptions.change_businessexception"

    def post(self, request, pk: int):
        get_object_or_404(BusinessException, pk=pk)
        action = request.POST.get("action", "")
        text = request.POST.get("text", "")
        try:
            if action == "claim":
                exception_assign(exception_id=pk, assignee=request.user, actor=request.user)
                messages.success(request, "Assigned to you.")
            elif action == "unassign":
                exception_assign(exception_id=pk, assignee=None, actor=request.user)
                messages.success(request, "Unassigned.")
            elif action == "comment":
                exception_comment(exception_id=pk, actor=request.user, text=text)
                messages.success(request, "Comment added.")
            elif action == "resolve":
                exception_resolve(exception_id=pk, actor=request.user, reason=text)
                messages.success(request, "Resolved.")
            elif action == "ignore":
                exception_ignore(exception_id=pk, actor=request.user, reason=text)
                messages.success(request, "Ignored.")
            elif action == "hold":
                exception_hold(exception_id=pk, actor=request.user, reason=text)
                messages.success(request, "On hold: no SLA alerts and no replay until released.")
            elif action == "release":
                exception_release(exception_id=pk, actor=request.user, reason=text)
                messages.success(request, "Hold released.")
            elif action == "reject":
                exception_reject(exception_id=pk, actor=request.user, reason=text)
                messages.success(request, "Rejected: the document will not go through.")
            elif action == "accept_variance":
                invoice_variance_accept(
                    invoice_id=int(request.POST.get("invoice", 0)), actor=request.user, reason=text
                )
                messages.success(
                    request,
                    "Variance accepted; the invoice matches again and its voucher goes to the ERP.",
                )
            elif action == "replay":
                exception_replay(exception_id=pk, actor=request.user)
                messages.success(
                    request, "Queued for replay; it resolves when the replay succeeds."
                )
            else:
                messages.error(request, "Unknown action.")
        except (Invoice.DoesNotExist, ValueError):
            messages.error(request, "No such invoice.")
        except HubError as error:
            messages.error(request, error.message)
        return HttpResponseRedirect(reverse("console:exception_detail", args=[pk]))


class SearchView(LoginRequiredMixin, HtmxFragmentMixin, TemplateView):
    """One box for any business key; each section shows only what the user may see."""

    template_name = "console/search.html"

    def get_context_data(self, **kwargs):
        term = self.request.GET.get("q", "")
        return {
            **super().get_context_data(**kwargs),
            "results": business_key_search(term=term, user=self.request.user),
            "now": timezone.now(),
        }


class ConnectorListView(ConsoleView):
    permission_required = "connectors.view_connector"
    template_name = "console/connector_list.html"

    def get_context_data(self, **kwargs):
        figures = connector_figures(now=timezone.now())
        connectors = list(connector_list())
        for connector in connectors:
            connector.figures = figures.get(connector.pk, {})
        return {
            **super().get_context_data(**kwargs),
            "connectors": connectors,
            "can_administer": self.request.user.has_perm("accounts.administer_connectors"),
        }


class ConnectorPauseView(LoginRequiredMixin, PermissionRequiredMixin, View):
    permission_required = "accounts.administer_connectors"

    def post(self, request, pk: int):
        connector = get_object_or_404(Connector, pk=pk)
        paused = request.POST.get("paused") == "true"
        connector_set_paused(connector_id=connector.pk, paused=paused, actor=request.user)
        messages.success(request, f"{connector.name} {'paused' if paused else 'resumed'}.")
        return HttpResponseRedirect(reverse("console:connector_list"))
