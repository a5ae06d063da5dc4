"""Builders for master-data tests: records created directly, mappings through the services."""

import datetime
import itertools

from auditlog.models import LogEntry

from apps.masterdata.models import (
    CostCenter,
    Facility,
    GLAccount,
    Item,
    LegalEntity,
    Supplier,
    UnitOfMeasure,
)
from apps.masterdata.services import crossref_approve, crossref_propose, normalized_name

D = datetime.date
_codes = itertools.count(1)


# --- Builders (plain creates: no duplicate checks, no approvals) --------------------------------


def supplier(code: str | None = None, name: str | None = None, **fields) -> Supplier:
    code = code or f"S{next(_codes)}"
    name = name or f"Supplier {code}"
    return Supplier.objects.create(
        code=code, name=name, normalized_name=normalized_name(name), **fields
    )


def uom(code: str) -> UnitOfMeasure:
    return UnitOfMeasure.objects.get_or_create(code=code, defaults={"name": code})[0]


def item(code: str | None = None, **fields) -> Item:
    code = code or f"I{next(_codes)}"
    fields.setdefault("stocking_uom", uom("EA"))
    return Item.objects.create(code=code, name=fields.pop("name", f"Item {code}"), **fields)


def facility(code: str, legal_entity: LegalEntity, **fields) -> Facility:
    return Facility.objects.create(
        code=code, name=f"Facility {code}", kind="hospital", legal_entity=legal_entity, **fields
    )


def cost_center(code: str, legal_entity: LegalEntity, **fields) -> CostCenter:
    return CostCenter.objects.create(
        code=code, name=f"Cost center {code}", legal_entity=legal_entity, **fields
    )


def gl_account(code: str, legal_entity: LegalEntity, **fields) -> GLAccount:
    return GLAccount.objects.create(
        code=code,
        name=f"GL {code}",
        account_type="expense",
        legal_entity=legal_entity,
        **fields,
    )


def approved_xref(maker, checker, *, code: str, target, entity_type: str = "supplier", **fields):
    """Propose (maker) and approve (checker) a cross-reference of system ERP."""
    fields.setdefault("effective_from", D(2000, 1, 1))
    draft = crossref_propose(
        actor=maker,
        system=fields.pop("system", "ERP"),
        entity_type=entity_type,
        external_code=code,
        target=target,
        **fields,
    )
    return crossref_approve(xref_id=draft.pk, actor=checker).record


def audit_entries(record, action=None):
    entries = LogEntry.objects.get_for_object(record).order_by("pk")
    return entries if action is None else entries.filter(action=action)


def look(code: str, on: datetime.date, *, entity_type: str = "supplier", system: str = "ERP"):
    from apps.masterdata.lookup import LookupKey, lookup

    return lookup(LookupKey(system, entity_type, code), on=on)
