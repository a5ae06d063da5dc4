"""The lookup service every flow asks: external codes to canonical records, or a coded miss.

Mapping logic lives here and only here. A flow builds ``LookupKey``s from a message, calls
``lookup_many`` once for all of them (one SQL statement, however many keys; answers cached
per process until master data changes), and turns each miss into a business exception with
the miss's code and ``root_cause_key``, so that one approved fix finds every exception it
resolves.

The system ``canonical`` means the code already is HubConsole's own code.
"""

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection

from apps.core.errors import HubError
from apps.exceptions.catalogue import codes
from apps.masterdata import cache
from apps.masterdata.choices import RecordStatusChoices, SupplierStatusChoices
from apps.masterdata.entities import ENTITY_TYPES, root_cause_key

CANONICAL = "canonical"


@dataclass(frozen=True)
class LookupKey:
    system: str
    entity_type: str
    code: str

    def __post_init__(self):
        if self.entity_type not in ENTITY_TYPES:
            raise ValueError(f"Unknown entity type {self.entity_type!r}")

    @property
    def root_cause_key(self) -> str:
        return root_cause_key(self.entity_type, self.system, self.code)


@dataclass(frozen=True)
class Resolved:
    """The answer for one key: a usable record, or ``miss`` (an exception code) and why."""

    key: LookupKey
    record_id: int | None = None
    code: str = ""
    miss: str | None = None
    reason: str = ""
    attributes: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.miss is None

    def error(self) -> HubError:
        """The miss as the coded, groupable error a flow raises."""
        return HubError(self.miss, self.reason, root_cause_key=self.key.root_cause_key)


# Keys travel as arrays; each key finds its approved cross-reference for the date (or, for
# the canonical system, its record by code), the record behind it, and the record a merged
# one was folded into.
_LOOKUP_SQL = """
WITH k AS (
    SELECT * FROM unnest(%(systems)s::varchar[], %(types)s::varchar[], %(codes)s::varchar[])
         WITH ORDINALITY AS k(system, entity_type, code, n)
), found AS (
    SELECT k.n, x.id AS xref_id, coalesce(ex.id, ec.id) AS id,
           coalesce(ex.code, ec.code) AS code, coalesce(ex.status, ec.status) AS status,
           coalesce(ex.effective_from, ec.effective_from) AS effective_from,
           CASE WHEN ex.id IS NOT NULL THEN ex.effective_to ELSE ec.effective_to END
               AS effective_to,
           coalesce(ex.chargeable, ec.chargeable) AS chargeable,
           coalesce(ex.legal_entity_id, ec.legal_entity_id) AS legal_entity_id,
           coalesce(ex.merged_into_id, ec.merged_into_id) AS merged_into_id,
           k.entity_type
    FROM k
    LEFT JOIN masterdata_externalsystem s ON s.code = k.system
    LEFT JOIN masterdata_crossreference x
           ON x.external_system_id = s.id AND x.entity_type = k.entity_type
          AND x.external_code = k.code AND x.status = 'approved'
          AND x.effective_from <= %(on)s AND (x.effective_to IS NULL OR x.effective_to >= %(on)s)
    LEFT JOIN masterdata_entity ex ON ex.entity_type = x.entity_type AND ex.id = x.object_id
    LEFT JOIN masterdata_entity ec
           ON k.system = %(canonical)s AND ec.entity_type = k.entity_type AND ec.code = k.code
          AND ec.effective_from <= %(on)s
          AND (ec.effective_to IS NULL OR ec.effective_to >= %(on)s)
)
SELECT f.n, f.xref_id, f.id, f.code, f.status, f.effective_from, f.effective_to,
       f.chargeable, f.legal_entity_id,
       m.id, m.code, m.status, m.effective_from, m.effective_to, m.chargeable, m.legal_entity_id
FROM found f
LEFT JOIN masterdata_entity m ON m.entity_type = f.entity_type AND m.id = f.merged_into_id
"""


def _decide(key: LookupKey, row, on: datetime.date) -> Resolved:
    entity = ENTITY_TYPES[key.entity_type]
    _, xref_id, rec_id, rec_code, status, eff_from, eff_to, chargeable, entity_id, *merged = row
    if rec_id is None:
        if key.system == CANONICAL:
            reason = f"No {entity.label.lower()} has the code {key.code!r} on {on}."
        elif xref_id is None:
            reason = f"No approved mapping of {key.system} {entity.label.lower()} {key.code!r}."
        else:
            reason = f"The mapping of {key.system} {key.code!r} points at a missing record."
        return Resolved(key, miss=entity.miss_code, reason=reason)
    if status == RecordStatusChoices.MERGED and merged[0] is not None:
        # Lookups of a merged record land on the survivor; the survivor's own state decides.
        rec_id, rec_code, status, eff_from, eff_to, chargeable, entity_id = merged
    attributes = {"chargeable": chargeable, "legal_entity_id": entity_id}
    if key.entity_type == "supplier" and status == SupplierStatusChoices.BLOCKED:
        return Resolved(
            key,
            rec_id,
            rec_code,
            codes.SUPPLIER_BLOCKED,
            f"Supplier {rec_code} is blocked.",
            attributes,
        )
    if status != RecordStatusChoices.ACTIVE or not (
        eff_from <= on and (eff_to is None or on <= eff_to)
    ):
        return Resolved(
            key,
            rec_id,
            rec_code,
            entity.miss_code,
            f"{entity.label} {rec_code} is not in use on {on} ({status}).",
            attributes,
        )
    return Resolved(key, rec_id, rec_code, attributes=attributes)


def lookup_many(keys: Iterable[LookupKey], *, on: datetime.date) -> dict[LookupKey, Resolved]:
    """Resolve every key for the date ``on``; one database round trip for what is not cached."""
    wanted = list(dict.fromkeys(keys))
    generation = cache.current_generation()
    store = cache.entries(generation) if generation is not None else {}
    answers = {key: store[(on, key)] for key in wanted if (on, key) in store}
    missing = [key for key in wanted if key not in answers]
    if missing:
        with connection.cursor() as cursor:
            cursor.execute(
                _LOOKUP_SQL,
                {
                    "systems": [k.system for k in missing],
                    "types": [k.entity_type for k in missing],
                    "codes": [k.code for k in missing],
                    "on": on,
                    "canonical": CANONICAL,
                },
            )
            rows = cursor.fetchall()
        # Several rows for one key would mean an inconsistent store; the first one wins.
        first: dict[int, tuple] = {}
        for row in rows:
            first.setdefault(row[0], row)
        for index, key in enumerate(missing, start=1):
            answers[key] = _decide(key, first[index], on)
            if generation is not None:
                store[(on, key)] = answers[key]
    return answers


def lookup(key: LookupKey, *, on: datetime.date) -> Resolved:
    return lookup_many([key], on=on)[key]


# --- Checks that need more than the record itself -----------------------------------------------


def suppliers_enabled(
    *, supplier_ids: Iterable[int], legal_entity_id: int, on: datetime.date
) -> set[int]:
    """Which of the suppliers the legal entity may buy from on ``on`` (one query)."""
    from apps.masterdata.models import SupplierEnablement

    return set(
        SupplierEnablement.objects.filter(
            supplier_id__in=list(supplier_ids),
            legal_entity_id=legal_entity_id,
            effective_from__lte=on,
        )
        .exclude(effective_to__lt=on)
        .values_list("supplier_id", flat=True)
    )


def require_enabled(resolved: Resolved, *, legal_entity_id: int, on: datetime.date) -> Resolved:
    """A resolved supplier that the legal entity may not use becomes SUPPLIER_NOT_ENABLED."""
    if not resolved.ok or resolved.record_id in suppliers_enabled(
        supplier_ids=[resolved.record_id], legal_entity_id=legal_entity_id, on=on
    ):
        return resolved
    return Resolved(
        resolved.key,
        resolved.record_id,
        resolved.code,
        codes.SUPPLIER_NOT_ENABLED,
        f"Supplier {resolved.code} is not enabled for legal entity {legal_entity_id} on {on}.",
        resolved.attributes,
    )


def require_chargeable(resolved: Resolved) -> Resolved:
    """A resolved item that may not be charged becomes ITEM_NOT_CHARGEABLE."""
    if not resolved.ok or resolved.attributes.get("chargeable"):
        return resolved
    return Resolved(
        resolved.key,
        resolved.record_id,
        resolved.code,
        codes.ITEM_NOT_CHARGEABLE,
        f"Item {resolved.code} is not chargeable.",
        resolved.attributes,
    )


@dataclass(frozen=True)
class UomKey:
    item_id: int
    from_uom: str
    to_uom: str


def uom_factors(keys: Sequence[UomKey]) -> dict[UomKey, Decimal | HubError]:
    """How many ``to_uom`` make one ``from_uom``, per item (an item's own conversion wins over
    a general one, and a conversion may be used backwards); a HubError when none exists."""
    from apps.masterdata.models import UomConversion

    wanted = list(dict.fromkeys(keys))
    if all(key.from_uom == key.to_uom for key in wanted):
        return dict.fromkeys(wanted, Decimal(1))  # the usual case asks the database nothing
    rows = UomConversion.objects.filter(item_id__in={k.item_id for k in wanted}).values_list(
        "item_id", "from_uom__code", "to_uom__code", "factor"
    )
    rows = list(rows) + list(
        UomConversion.objects.filter(item__isnull=True).values_list(
            "item_id", "from_uom__code", "to_uom__code", "factor"
        )
    )
    table: dict[tuple, Decimal] = {}
    for item_id, source, target, factor in rows:
        table[(item_id, source, target)] = factor
        table.setdefault((item_id, target, source), Decimal(1) / factor)
    answers: dict[UomKey, Decimal | HubError] = {}
    for key in wanted:
        if key.from_uom == key.to_uom:
            answers[key] = Decimal(1)
            continue
        factor = table.get((key.item_id, key.from_uom, key.to_uom))
        if factor is None:
            factor = table.get((None, key.from_uom, key.to_uom))
        answers[key] = (
            factor
            if factor is not None
            else HubError(
                codes.UOM_CONVERSION_MISSING,
                f"No conversion from {key.from_uom} to {key.to_uom} for item {key.item_id}.",
                root_cause_key=f"uom:{key.item_id}:{key.from_uom}:{key.to_uom}",
            )
        )
    return answers


# --- Outbound: canonical records to another system's codes --------------------------------------


def outbound_root_cause_key(entity_type: str, system: str, canonical_code: str) -> str:
    """How exceptions name a record that has no code in ``system`` yet (the other direction of
    ``root_cause_key``); approving a mapping for that record resolves them."""
    return f"{entity_type}:{system}:->{canonical_code}"


def outbound_codes(
    *, system: str, entity_type: str, record_ids: Iterable[int], on: datetime.date
) -> dict[int, str]:
    """The code ``system`` knows each record by on ``on`` (one query). A record with several
    approved codes gets the one in effect the longest; a record with none is left out."""
    from apps.masterdata.models import CrossReference

    ids = list(set(record_ids))
    if not ids:
        return {}
    rows = (
        CrossReference.objects.filter(
            external_system__code=system,
            entity_type=entity_type,
            object_id__in=ids,
            status="approved",
            effective_from__lte=on,
        )
        .exclude(effective_to__lt=on)
        .order_by("object_id", "effective_from", "pk")
        .values_list("object_id", "external_code")
    )
    answers: dict[int, str] = {}
    for object_id, code in rows:
        answers.setdefault(object_id, code)
    return answers


def outbound_miss(*, system: str, entity_type: str, canonical_code: str) -> HubError:
    entity = ENTITY_TYPES[entity_type]
    return HubError(
        codes.VALUE_MAPPING_MISSING,
        f"{entity.label} {canonical_code} has no {system} code yet.",
        root_cause_key=outbound_root_cause_key(entity_type, system, canonical_code),
    )
