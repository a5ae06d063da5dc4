"""Accepting an invoice variance within a person's authority, then letting it match."""

from decimal import Decimal

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.core.errors import HubError, PermissionDenied
from apps.exceptions.choices import OPEN_STATUSES
from apps.exceptions.models import BusinessException
from apps.p2p.choices import InvoiceStatusChoices
from apps.p2p.models import Invoice, VarianceAuthority

ACCEPT_PERMISSION = "p2p.accept_variance"


def variance_amount(invoice: Invoice) -> Decimal:
    """What accepting the invoice's variances would pay beyond the match: its total above
    the expected total (header), at least the sum of the line amount differences."""
    result = invoice.match_result or {}
    header = result.get("header", {})
    over_total = Decimal(header.get("total_amount", "0")) - Decimal(
        header.get("expected_total", "0")
    )
    lines = {line["line_number"]: line for line in result.get("lines", [])}
    over_lines = Decimal(0)
    for variance in result.get("variances", []):
        over = max(Decimal(variance["difference"]), Decimal(0))
        line = lines.get(variance["line_number"], {})
        if variance["measure"] == "price":  # per unit: times the quantity invoiced
            over *= Decimal(line.get("quantity", "1"))
        elif variance["measure"] == "quantity":  # in units: times the price invoiced
            over *= Decimal(line.get("unit_price", "0"))
        over_lines += over
    return max(over_total, over_lines, Decimal(0)).quantize(Decimal("0.01"))


def authority_of(user) -> Decimal | None:
    """The largest variance ``user`` may accept (None: unlimited, for superusers)."""
    if user.is_superuser:
        return None
    limit = VarianceAuthority.objects.filter(group__user=user).aggregate(m=Max("max_amount"))
    return limit["m"] or Decimal(0)


@transaction.atomic
def invoice_variance_accept(*, invoice_id: int, actor, reason: str) -> Invoice:
    """Accept the invoice's current variances and replay it, so it matches as *variance
    accepted* and its voucher goes to the ERP; refused beyond the actor's authority. The
    invoice's open exceptions say who accepted how much, and why."""
    from apps.exceptions.services import exception_comment
    from apps.pipeline.services import transaction_replay

    if actor is None or not actor.has_perm(ACCEPT_PERMISSION):
        raise PermissionDenied("You may not accept invoice variances.")
    reason = (reason or "").strip()
    if not reason:
        raise HubError("REASON_REQUIRED", "Say why the variance is accepted.")
    invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
    variances = (invoice.match_result or {}).get("variances", [])
    if invoice.status != InvoiceStatusChoices.EXCEPTION or not variances:
        raise HubError(
            "ACTION_NOT_ALLOWED",
            f"Invoice {invoice.invoice_number} has no variance to accept "
            f"({invoice.get_status_display().lower()}).",
        )
    amount = variance_amount(invoice)
    limit = authority_of(actor)
    if limit is not None and amount > limit:
        raise PermissionDenied(
            f"The variance of {amount} is above your authority of {limit}; "
            "ask someone with a higher limit."
        )
    invoice.accepted_variances = variances
    invoice.accepted_by = actor
    invoice.accepted_at = timezone.now()
    invoice.accepted_reason = reason[:300]
    invoice.save(
        update_fields=[
            "accepted_variances",
            "accepted_by",
            "accepted_at",
            "accepted_reason",
            "updated_at",
        ]
    )
    for exception_id in BusinessException.objects.filter(
        transaction_id=invoice.source_transaction_id, status__in=OPEN_STATUSES
    ).values_list("pk", flat=True):
        exception_comment(
            exception_id=exception_id,
            actor=actor,
            text=f"Variance accepted on invoice {invoice.invoice_number} ({amount}): {reason}",
        )
    transaction_replay(transaction_id=invoice.source_transaction_id, actor=actor)
    return invoice


def variances_accepted(current: list[dict], accepted: list[dict]) -> bool:
    """Whether every variance found now was accepted as it is (same code, line and value)."""

    def key(v: dict) -> tuple:
        # Values compare as numbers: a stored result may say 13.0000 where the invoice said 13.00.
        return (v["code"], v["line_number"], Decimal(str(v["actual"])))

    keys = {key(v) for v in accepted}
    return bool(current) and all(key(v) in keys for v in current)
