"""Purchase orders: checked against master data, created in the ERP, sent to the supplier,
then acknowledged (855) and shipped (856) by the supplier."""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum

from apps.core.errors import HubError
from apps.exceptions.catalogue import codes
from apps.masterdata.lookup import CANONICAL, LookupKey, require_enabled
from apps.masterdata.models import CostCenter
from apps.p2p import canonical as doc
from apps.p2p.choices import PurchaseOrderStatusChoices as Status
from apps.p2p.models import PurchaseOrder, PurchaseOrderLine, ShipNotice, ShipNoticeLine
from apps.p2p.services.common import erp_codes, json_body, money, raise_misses, resolve_all, route
from apps.pipeline.processors import Applied, Delivery

ERP_ORDER = "p2p.purchase_order.erp"


@dataclass(frozen=True)
class CheckedOrder:
    """A purchase order whose codes all resolved: canonical record ids per code."""

    po: doc.PurchaseOrder
    supplier_id: int
    supplier_code: str
    legal_entity_id: int
    legal_entity_code: str
    facility_id: int | None
    facility_code: str
    cost_center_id: int
    cost_center_code: str
    items: dict[str, tuple[int, str]]  # line number -> (item id, item code)


def purchase_order_check(po: doc.PurchaseOrder, *, system: str) -> CheckedOrder:
    """Resolve the order's supplier, items, facility (in ``system``'s codes) and its legal
    entity and cost center (HubConsole's codes); check the supplier may sell to the entity.
    Every miss is named in one coded error (one read of master data for the whole order)."""
    on = po.po_date
    supplier = next((p.code for p in po.parties if p.role == "supplier"), "")
    keys = {
        "supplier": LookupKey(system, "supplier", supplier),
        "legal_entity": LookupKey(CANONICAL, "legal_entity", po.legal_entity),
        "cost_center": LookupKey(CANONICAL, "cost_center", po.cost_center),
    }
    if po.facility:
        keys["facility"] = LookupKey(system, "facility", po.facility)
    item_keys = {
        line.line_number: LookupKey(system, "item", line.item.buyer_part) for line in po.lines
    }
    answers = resolve_all([*keys.values(), *item_keys.values()], on=on)
    entity = answers[keys["legal_entity"]]
    enabled = require_enabled(answers[keys["supplier"]], legal_entity_id=entity.record_id, on=on)
    if not enabled.ok:
        raise_misses([enabled])
    cost_center = answers[keys["cost_center"]]
    if cost_center.attributes.get("legal_entity_id") not in (None, entity.record_id):
        raise HubError(
            codes.COST_CENTER_INVALID,
            f"Cost center {cost_center.code} does not belong to legal entity {entity.code}.",
            root_cause_key=keys["cost_center"].root_cause_key,
        )
    return CheckedOrder(
        po=po,
        supplier_id=enabled.record_id,
        supplier_code=enabled.code,
        legal_entity_id=entity.record_id,
        legal_entity_code=entity.code,
        facility_id=answers[keys["facility"]].record_id if "facility" in keys else None,
        facility_code=answers[keys["facility"]].code if "facility" in keys else "",
        cost_center_id=cost_center.record_id,
        cost_center_code=cost_center.code,
        items={n: (answers[k].record_id, answers[k].code) for n, k in item_keys.items()},
    )


def _budget_check(order: CheckedOrder, *, exclude_po: str) -> None:
    """The cost center's purchase orders of the year, with this one, stay within its budget."""
    budget = (
        CostCenter.objects.filter(pk=order.cost_center_id)
        .values_list("annual_budget", flat=True)
        .first()
    )
    if budget is None:
        return
    year = order.po.po_date.year
    committed = (
        PurchaseOrder.objects.filter(cost_center_id=order.cost_center_id, po_date__year=year)
        .exclude(po_number=exclude_po)
        .exclude(status=Status.REJECTED)
        .aggregate(total=Sum("total_amount"))["total"]
    ) or Decimal(0)
    if committed + order.po.total_amount > budget:
        raise HubError(
            codes.BUDGET_EXCEEDED,
            f"Cost center {order.cost_center_code} has {money(budget - committed)} of its "
            f"{year} budget {money(budget)} left; this order is {money(order.po.total_amount)}.",
            root_cause_key=f"budget:{order.cost_center_code}:{year}",
            details={"budget": money(budget), "committed": money(committed)},
        )


def _erp_body(order: CheckedOrder, revision: int) -> bytes:
    po, on = order.po, order.po.po_date
    suppliers = erp_codes("supplier", {order.supplier_id: order.supplier_code}, on=on)
    entities = erp_codes("legal_entity", {order.legal_entity_id: order.legal_entity_code}, on=on)
    centers = erp_codes("cost_center", {order.cost_center_id: order.cost_center_code}, on=on)
    items = erp_codes("item", dict(order.items.values()), on=on)
    facility = ""
    if order.facility_id is not None:
        facility = erp_codes("facility", {order.facility_id: order.facility_code}, on=on)[
            order.facility_id
        ]
    return json_body(
        {
            "po_number": po.po_number,
            "revision": revision,
            "po_date": po.po_date.isoformat(),
            "legal_entity": entities[order.legal_entity_id],
            "facility": facility,
            "cost_center": centers[order.cost_center_id],
            "supplier": suppliers[order.supplier_id],
            "currency": po.currency,
            "lines": [
                {
                    "line_number": line.line_number,
                    "item": items[order.items[line.line_number][0]],
                    "description": line.description,
                    "quantity": str(line.quantity),
                    "unit": line.unit,
                    "unit_price": str(line.unit_price),
                    "amount": money(line.extended_amount),
                }
                for line in po.lines
            ],
            "total_amount": money(po.total_amount),
        }
    )


def purchase_order_accept(
    order: CheckedOrder,
    *,
    revision: int,
    transaction_id: int,
    correlation_id: str,
    settings: dict,
) -> Applied:
    """Store (or revise) the order and queue its creation in the ERP. Runs inside the
    pipeline's commit; the order row is locked while it changes."""
    po = order.po
    existing = PurchaseOrder.objects.select_for_update().filter(po_number=po.po_number).first()
    if existing is not None and existing.revision > revision:
        raise HubError(
            codes.DUPLICATE_DIFFERENT_CONTENT,
            f"PO {po.po_number} is already at revision {existing.revision}; revision "
            f"{revision} is out of date.",
            root_cause_key=f"document:po:{po.po_number}",
        )
    sent = existing is not None and existing.status not in (Status.VALIDATED, Status.IN_ERP)
    if sent and existing.source_transaction_id != transaction_id:
        raise HubError(
            codes.DUPLICATE_DIFFERENT_CONTENT,
            f"PO {po.po_number} was already sent to the supplier; a change must go to "
            "the supplier as a change order.",
            root_cause_key=f"document:po:{po.po_number}",
        )
    _budget_check(order, exclude_po=po.po_number)
    body = _erp_body(order, revision)
    erp = route(settings, "erp_orders")
    fields = {
        "revision": revision,
        "supplier_id": order.supplier_id,
        "legal_entity_id": order.legal_entity_id,
        "facility_id": order.facility_id,
        "cost_center_id": order.cost_center_id,
        "currency": po.currency,
        "po_date": po.po_date,
        "total_amount": po.total_amount,
        "requisition_number": po.requisition_number,
        "source_transaction_id": transaction_id,
        "correlation_id": correlation_id,
    }
    if existing is None:
        record = PurchaseOrder.objects.create(
            po_number=po.po_number, status=Status.VALIDATED, **fields
        )
    else:
        record = existing
        for name, value in fields.items():
            setattr(record, name, value)
        record.save()
        record.lines.all().delete()
    PurchaseOrderLine.objects.bulk_create(
        PurchaseOrderLine(
            purchase_order=record,
            line_number=line.line_number,
            item_id=order.items[line.line_number][0],
            vendor_part=line.item.vendor_part,
            gtin=line.item.gtin,
            description=line.description[:300],
            unit=line.unit,
            quantity=line.quantity,
            unit_price=line.unit_price,
        )
        for line in po.lines
    )
    return Applied(
        deliveries=[Delivery(erp, ERP_ORDER, po.po_number, revision, body)],
        keys=[("supplier", order.supplier_code), ("cost_center", order.cost_center_code)],
        message=f"PO {po.po_number} checked against master data; creating it in the ERP.",
    )


# --- After the ERP and the supplier took it -----------------------------------------------------


def purchase_orders_in_erp(
    deliveries: list, *, order_to_supplier: Callable[[PurchaseOrder], Delivery | None]
) -> list[tuple[int, Delivery]]:
    """The ERP created these orders: remember its reference and send each to its supplier
    (``order_to_supplier`` gives the posting, or None when the ERP sends it itself)."""
    follow_ups = []
    for view in deliveries:
        record = (
            PurchaseOrder.objects.select_for_update().filter(po_number=view.document_id).first()
        )
        if record is None:
            continue
        record.erp_reference = view.reference[:60]
        if record.status == Status.VALIDATED:
            record.status = Status.IN_ERP
        record.save(update_fields=["erp_reference", "status", "updated_at"])
        delivery = order_to_supplier(record)
        if delivery is not None:
            follow_ups.append((view.transaction_id, delivery))
    return follow_ups


def purchase_orders_sent(po_numbers: list[str]) -> None:
    PurchaseOrder.objects.filter(po_number__in=po_numbers, status=Status.IN_ERP).update(
        status=Status.SENT
    )


def purchase_order_locked(po_number: str) -> PurchaseOrder:
    """The purchase order, locked for the caller's commit, or PO_NOT_FOUND."""
    record = (
        PurchaseOrder.objects.select_related("legal_entity")
        .select_for_update(of=("self",))
        .filter(po_number=po_number)
        .first()
    )
    if record is None:
        raise HubError(
            codes.PO_NOT_FOUND,
            f"No purchase order {po_number!r} is known.",
            root_cause_key=f"po:{po_number}",
        )
    return record


def po_line_for(lines: dict[str, PurchaseOrderLine], line: doc.Line) -> PurchaseOrderLine | None:
    """The PO line an incoming line means: by number, else by vendor part or GTIN."""
    number = line.po_line_number or line.line_number
    candidate = lines.get(number)
    if candidate is not None and not _names_another_item(line, candidate):
        return candidate
    for candidate in lines.values():
        if line.item.vendor_part and candidate.vendor_part == line.item.vendor_part:
            return candidate
        if line.item.gtin and candidate.gtin == line.item.gtin:
            return candidate
    return None


def _names_another_item(line: doc.Line, po_line: PurchaseOrderLine) -> bool:
    """Whether the line's own item ids contradict the PO line its number points at."""
    ids = line.item
    if ids.vendor_part and po_line.vendor_part and ids.vendor_part != po_line.vendor_part:
        return True
    return bool(ids.gtin and po_line.gtin and ids.gtin != po_line.gtin)


def acknowledgment_apply(ack: doc.POAcknowledgment) -> Applied:
    """The supplier's 855: accepted, changed (the buyer decides) or rejected."""
    record = purchase_order_locked(ack.po_number)
    lines = {line.line_number: line for line in record.lines.all()}
    changed = []
    for line in ack.lines:
        po_line = po_line_for(lines, line)
        if po_line is None:
            continue
        po_line.ack_status = line.status or ack.status
        po_line.acknowledged_quantity = line.quantity
        po_line.acknowledged_price = line.unit_price
        po_line.save(update_fields=["ack_status", "acknowledged_quantity", "acknowledged_price"])
        price_changed = line.unit_price is not None and line.unit_price != po_line.unit_price
        if line.status == "changed" or line.quantity != po_line.quantity or price_changed:
            changed.append(
                {
                    "line_number": po_line.line_number,
                    "ordered": str(po_line.quantity),
                    "acknowledged": str(line.quantity),
                    "price": str(po_line.unit_price),
                    "acknowledged_price": str(line.unit_price),
                }
            )
    keys = [("po_number", record.po_number)]
    if ack.status == "rejected":
        record.status, record.ack_status = Status.REJECTED, "rejected"
        record.save(update_fields=["status", "ack_status", "updated_at"])
        return Applied(
            keys=keys,
            error=HubError(
                codes.PO_ACK_REJECTED,
                f"The supplier rejected PO {record.po_number}.",
                root_cause_key=f"po:{record.po_number}",
            ),
        )
    if ack.status == "changed" or changed:
        record.status, record.ack_status = Status.ACK_CHANGED, "changed"
        record.save(update_fields=["status", "ack_status", "updated_at"])
        return Applied(
            keys=keys,
            error=HubError(
                codes.PO_ACK_CHANGED,
                f"The supplier accepted PO {record.po_number} with changes to "
                f"{len(changed)} line(s).",
                root_cause_key=f"po:{record.po_number}",
                details={"changed_lines": changed},
            ),
        )
    record.ack_status = "accepted"
    if record.status in (Status.VALIDATED, Status.IN_ERP, Status.SENT):
        record.status = Status.ACKNOWLEDGED
    record.save(update_fields=["status", "ack_status", "updated_at"])
    return Applied(keys=keys, message=f"PO {record.po_number} acknowledged by the supplier.")


def ship_notice_apply(asn: doc.ShipNotice, *, supplier_id: int, transaction_id: int) -> Applied:
    """The supplier's 856: what is on its way, per PO line (the expected receipt)."""
    existing = ShipNotice.objects.filter(supplier_id=supplier_id, shipment_id=asn.shipment_id)
    if existing.exclude(source_transaction_id=transaction_id).exists():
        return Applied(message=f"Ship notice {asn.shipment_id} was already recorded.")
    existing.delete()  # a replay of this very transaction records it afresh
    notice = ShipNotice.objects.create(
        supplier_id=supplier_id,
        shipment_id=asn.shipment_id,
        ship_date=asn.ship_date,
        expected_date=asn.expected_date,
        source_transaction_id=transaction_id,
    )
    po_numbers = sorted({line.po_number for line in asn.lines if line.po_number}) or list(
        asn.po_numbers
    )
    keys = [("shipment_id", asn.shipment_id)]
    for po_number in po_numbers:
        record = purchase_order_locked(po_number)
        keys.append(("po_number", po_number))
        lines = {line.line_number: line for line in record.lines.all()}
        for line in asn.lines:
            if line.po_number and line.po_number != po_number:
                continue
            po_line = po_line_for(lines, line)
            if po_line is None:
                raise HubError(
                    codes.ASN_RECEIPT_MISMATCH,
                    f"Ship notice {asn.shipment_id} names an item that is not on PO "
                    f"{po_number} ({line.item.vendor_part or line.item.gtin or line.line_number}).",
                    root_cause_key=f"po:{po_number}",
                )
            ShipNoticeLine.objects.create(
                ship_notice=notice,
                po_line=po_line,
                quantity=line.quantity,
                lot=line.lot,
                serial=line.serial,
                expiry=line.expiry,
            )
            po_line.shipped_quantity += line.quantity
            po_line.save(update_fields=["shipped_quantity"])
        if record.status in (Status.SENT, Status.ACKNOWLEDGED, Status.IN_ERP):
            record.status = Status.SHIPPED
            record.save(update_fields=["status", "updated_at"])
    return Applied(keys=keys, message=f"Ship notice {asn.shipment_id} recorded.")
