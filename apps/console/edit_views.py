"""Edit-and-replay screen: correct fields of a stopped JSON message, say why, replay it."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.generic import TemplateView

from apps.core.errors import HubError
from apps.core.masking import MASK, is_patient_path
from apps.pipeline import editing
from apps.pipeline.models import Transaction
from apps.pipeline.selectors import transaction_edits, transaction_get
from apps.pipeline.services import transaction_edit_and_replay

FIELD_PREFIX = "f:"  # form names of message fields: "f:lines.0.unit_price"


class TransactionEditView(LoginRequiredMixin, PermissionRequiredMixin, TemplateView):
    permission_required = ("accounts.edit_and_replay", "accounts.view_payload")
    template_name = "console/transaction_edit.html"

    def _transaction(self) -> Transaction:
        try:
            return transaction_get(transaction_id=self.kwargs["pk"], with_raw=True)
        except Transaction.DoesNotExist:
            raise Http404("No such transaction.") from None

    def _back(self, tx: Transaction) -> str:
        target = self.request.POST.get("next") or self.request.GET.get("next", "")
        if target and url_has_allowed_host_and_scheme(
            target, allowed_hosts={self.request.get_host()}
        ):
            return target
        return reverse("console:transaction_detail", args=[tx.pk])

    def get_context_data(self, **kwargs):
        tx = self._transaction()
        fields, problem = [], ""
        try:
            document = editing.document_of(bytes(tx.edited or tx.raw))
            fields = [
                {
                    "name": f"{FIELD_PREFIX}{field.path}",
                    "field": field,
                    "patient": is_patient_path(field.path),
                    "shown": MASK
                    if is_patient_path(field.path)
                    else self.request.POST.get(f"{FIELD_PREFIX}{field.path}", field.text),
                }
                for field in editing.fields_of(document)
            ]
        except editing.EditError as error:
            problem = str(error)
        return {
            **super().get_context_data(**kwargs),
            "tx": tx,
            "fields": fields,
            "problem": problem,
            "edits": transaction_edits(transaction_id=tx.pk),
            "next": self._back(tx),
            "values": self.request.POST,
        }

    def post(self, request, pk: int):
        tx = self._transaction()
        values = {
            name.removeprefix(FIELD_PREFIX): value
            for name, value in request.POST.items()
            if name.startswith(FIELD_PREFIX) and not is_patient_path(name)
        }
        try:
            edit = transaction_edit_and_replay(
                transaction_id=tx.pk,
                actor=request.user,
                values=values,
                reason=request.POST.get("reason", ""),
            )
        except HubError as error:
            messages.error(request, error.message)
            return self.render_to_response(self.get_context_data(), status=400)
        messages.success(
            request,
            f"{len(edit.diff)} field(s) changed and the transaction queued for replay; its "
            "exceptions resolve when the replay succeeds.",
        )
        return HttpResponseRedirect(self._back(tx))
