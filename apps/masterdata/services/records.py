"""Saving canonical records, finding possible duplicates, and merging them."""

import re
import unicodedata
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from apps.core.audit import acting_as
from apps.core.errors import HubError, PermissionDenied
from apps.exceptions.catalogue import codes
from apps.exceptions.choices import OPEN_STATUSES
from apps.exceptions.models import BusinessException
from apps.exceptions.services import ExceptionSpec, exception_resolve, exceptions_open
from apps.masterdata import cache
from apps.masterdata.choices import RecordStatusChoices
from apps.masterdata.models import (
    CrossReference,
    Item,
    MergeRecord,
    Supplier,
    SupplierEnablement,
    ToleranceRule,
    UomConversion,
    VendorPart,
)

STEWARD = "accounts.approve_mapping"

# Words that say what kind of company it is, not which one.
_LEGAL_FORMS = {
    "inc",
    "incorporated",
    "llc",
    "ltd",
    "limited",
    "corp",
    "corporation",
    "co",
    "company",
    "gmbh",
    "ag",
    "sa",
    "sas",
    "srl",
    "bv",
    "nv",
    "plc",
    "lp",
    "llp",
    "pty",
    "the",
}


def normalized_name(name: str) -> str:
    """A supplier name reduced to what tells suppliers apart: 'ACME, Inc.' → 'acme'."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"&", " and ", text)
    words = [w for w in re.split(r"[^a-z0-9]+", text) if w and w not in _LEGAL_FORMS]
    return " ".join(words)


def normalized_part(part_number: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", part_number.upper())


@transaction.atomic
def record_save(*, record, actor):
    """Validate and save a canonical record, then look for possible duplicates of it.

    Every interface that creates or changes records (admin, import, demo) calls this, so
    derived fields and duplicate checks never depend on which door was used.
    """
    action = "change" if record.pk else "add"
    permission = f"{record._meta.app_label}.{action}_{record._meta.model_name}"
    if actor is None or not actor.has_perm(permission):
        raise PermissionDenied(f"You may not {action} {record._meta.verbose_name_plural}.")
    if isinstance(record, Supplier):
        record.normalized_name = normalized_name(record.name)
        if not record.normalized_name:
            raise ValidationError(
                {"name": "The name must say which company this is, not only its legal form."}
            )
    if getattr(record, "status", None) == RecordStatusChoices.MERGED and not getattr(
        record, "merged_into_id", None
    ):
        raise ValidationError({"status": "Use a merge to mark a record merged."})
    record.full_clean()
    with acting_as(actor):
        record.save()
    if isinstance(record, Supplier):
        _open_duplicate_exceptions(_supplier_duplicates([record.pk]))
    elif isinstance(record, Item):
        _open_duplicate_exceptions(_item_duplicates([record.pk]))
    elif isinstance(record, VendorPart):
        _open_duplicate_exceptions(_item_duplicates([record.item_id]))
    return record


# --- Possible duplicates ----------------------------------------------------------------------


@dataclass(frozen=True)
class DuplicatePair:
    entity_type: str
    first_id: int  # the lower id: each pair is reported once
    second_id: int
    first_code: str
    second_code: str
    reason: str

    @property
    def root_cause_key(self) -> str:
        return f"duplicate:{self.entity_type}:{self.first_id}:{self.second_id}"


_SUPPLIER_PAIRS = """
SELECT a.id, b.id, a.code, b.code,
       CASE WHEN a.normalized_name = b.normalized_name THEN 'same name' ELSE 'same tax id' END
FROM masterdata_supplier a
JOIN masterdata_supplier b
  ON a.id < b.id
 AND (a.normalized_name = b.normalized_name OR (a.tax_id <> '' AND a.tax_id = b.tax_id))
WHERE a.status <> 'merged' AND b.status <> 'merged' AND a.normalized_name <> ''
  AND (%(ids)s::bigint[] IS NULL OR a.id = ANY(%(ids)s) OR b.id = ANY(%(ids)s))
"""

_ITEM_PAIRS = """
SELECT a.id, b.id, a.code, b.code, 'same GTIN'
FROM masterdata_item a JOIN masterdata_item b ON a.id < b.id AND a.gtin <> '' AND a.gtin = b.gtin
WHERE a.status <> 'merged' AND b.status <> 'merged'
  AND (%(ids)s::bigint[] IS NULL OR a.id = ANY(%(ids)s) OR b.id = ANY(%(ids)s))
UNION
SELECT least(pa.item_id, pb.item_id), greatest(pa.item_id, pb.item_id),
       CASE WHEN pa.item_id < pb.item_id THEN ia.code ELSE ib.code END,
       CASE WHEN pa.item_id < pb.item_id THEN ib.code ELSE ia.code END,
       'same vendor part'
FROM masterdata_vendorpart pa
JOIN masterdata_vendorpart pb
  ON pa.supplier_id = pb.supplier_id AND pa.item_id < pb.item_id
 AND upper(regexp_replace(pa.part_number, '[^A-Za-z0-9]', '', 'g'))
   = upper(regexp_replace(pb.part_number, '[^A-Za-z0-9]', '', 'g'))
JOIN masterdata_item ia ON ia.id = pa.item_id
JOIN masterdata_item ib ON ib.id = pb.item_id
WHERE ia.status <> 'merged' AND ib.status <> 'merged'
  AND (%(ids)s::bigint[] IS NULL OR pa.item_id = ANY(%(ids)s) OR pb.item_id = ANY(%(ids)s))
"""


def _pairs(sql: str, entity_type: str, ids: list[int] | None) -> list[DuplicatePair]:
    with connection.cursor() as cursor:
        cursor.execute(sql, {"ids": ids})
        return [DuplicatePair(entity_type, *row) for row in cursor.fetchall()]


def _supplier_duplicates(ids: list[int] | None) -> list[DuplicatePair]:
    return _pairs(_SUPPLIER_PAIRS, "supplier", ids)


def _item_duplicates(ids: list[int] | None) -> list[DuplicatePair]:
    return _pairs(_ITEM_PAIRS, "item", ids)


def _open_duplicate_exceptions(pairs: list[DuplicatePair]) -> int:
    exceptions_open(
        [
            ExceptionSpec(
                code=codes.MASTER_POSSIBLE_DUPLICATE,
                summary=(
                    f"{pair.entity_type.title()} {pair.first_code} and {pair.second_code} may be "
                    f"the same ({pair.reason}); merge them or mark them distinct."
                ),
                root_cause_key=pair.root_cause_key,
                details={
                    "entity_type": pair.entity_type,
                    "ids": [pair.first_id, pair.second_id],
                    "codes": [pair.first_code, pair.second_code],
                    "reason": pair.reason,
                },
            )
            for pair in pairs
        ]
    )
    return len(pairs)


def duplicates_scan() -> int:
    """Find every possible duplicate supplier and item (set-based); returns pairs found.

    Pairs that already have an open exception are left as they are: a periodic scan finding
    the same pair again is not a new occurrence.
    """
    pairs = _supplier_duplicates(None) + _item_duplicates(None)
    open_keys = set(
        BusinessException.objects.filter(
            code_id=codes.MASTER_POSSIBLE_DUPLICATE,
            transaction__isnull=True,
            status__in=OPEN_STATUSES,
        ).values_list("root_cause_key", flat=True)
    )
    with transaction.atomic():
        _open_duplicate_exceptions([p for p in pairs if p.root_cause_key not in open_keys])
    return len(pairs)


# --- Merging ------------------------------------------------------------------------------------


def _move(queryset, field: str, survivor_id: int) -> tuple[int, int]:
    """Repoint rows one by one; a row that would break a uniqueness rule is left behind."""
    moved = skipped = 0
    for row in queryset:
        setattr(row, field, survivor_id)
        try:
            with transaction.atomic():
                row.save(update_fields=[field])
            moved += 1
        except IntegrityError:
            skipped += 1
    return moved, skipped


def _move_cross_references(model, merged_id: int, survivor_id: int) -> dict:
    """Every mapping of the merged record now means the survivor (keys and dates unchanged,
    so no-overlap cannot break)."""
    content_type = ContentType.objects.get_for_model(model)
    moved, _ = _move(
        CrossReference.objects.filter(content_type=content_type, object_id=merged_id),
        "object_id",
        survivor_id,
    )
    return {"cross_references": moved}


def _move_dependants(model, merged, merged_id: int, survivor_id: int) -> dict:
    if model is Supplier:
        movable = (
            ("vendor_parts", VendorPart.objects.filter(supplier_id=merged_id), "supplier_id"),
            (
                "enablements",
                SupplierEnablement.objects.filter(supplier_id=merged_id),
                "supplier_id",
            ),
            ("sites", merged.sites.all(), "supplier_id"),
            ("tolerance_rules", ToleranceRule.objects.filter(supplier_id=merged_id), "supplier_id"),
        )
    else:
        movable = (
            ("vendor_parts", VendorPart.objects.filter(item_id=merged_id), "item_id"),
            ("uom_conversions", UomConversion.objects.filter(item_id=merged_id), "item_id"),
            ("tolerance_rules", ToleranceRule.objects.filter(item_id=merged_id), "item_id"),
        )
    moved = {}
    for name, queryset, field in movable:
        moved[name], moved[f"{name}_left_behind"] = _move(queryset, field, survivor_id)
    return moved


@transaction.atomic
def record_merge(*, model, survivor_id: int, merged_id: int, actor, reason: str) -> MergeRecord:
    """Fold one supplier or item into another: its mappings, parts and rules move to the
    survivor, it is kept as a tombstone (status merged, pointing at the survivor), and the
    possible-duplicate exception of the pair is resolved. Every change is attributed to the
    steward who merged."""
    if actor is None or not actor.has_perm(STEWARD):
        raise PermissionDenied("Only data stewards merge records.")
    if model not in (Supplier, Item):
        raise HubError("MERGE_NOT_SUPPORTED", f"{model.__name__} records are not merged.")
    if survivor_id == merged_id:
        raise HubError("MERGE_SAME_RECORD", "A record cannot be merged into itself.")
    if not reason.strip():
        raise HubError("REASON_REQUIRED", "Say why these are the same record.")
    records = model.objects.select_for_update().in_bulk([survivor_id, merged_id])
    survivor, merged = records.get(survivor_id), records.get(merged_id)
    if survivor is None or merged is None:
        raise HubError("MERGE_NOT_FOUND", "Both records must exist.")
    if RecordStatusChoices.MERGED in (survivor.status, merged.status):
        raise HubError("MERGE_ALREADY_MERGED", "One of these records was merged already.")

    with acting_as(actor):
        moved = _move_cross_references(model, merged_id, survivor_id)
        moved.update(_move_dependants(model, merged, merged_id, survivor_id))
        # Records merged into this one earlier now point straight at the survivor, so
        # lookups never land on a tombstone.
        for earlier in model.objects.filter(merged_into_id=merged_id):
            earlier.merged_into = survivor
            earlier.save(update_fields=["merged_into"])
        merged.status = RecordStatusChoices.MERGED
        merged.merged_into = survivor
        merged.save(update_fields=["status", "merged_into"])
    entity_type = "supplier" if model is Supplier else "item"
    record = MergeRecord.objects.create(
        entity_type=entity_type,
        survivor_id=survivor_id,
        merged_id=merged_id,
        merged_code=merged.code,
        moved={**moved, "reason": reason.strip()},
        actor=actor,
    )
    low, high = sorted((survivor_id, merged_id))
    for item in BusinessException.objects.filter(
        code_id=codes.MASTER_POSSIBLE_DUPLICATE,
        root_cause_key=f"duplicate:{entity_type}:{low}:{high}",
        status__in=OPEN_STATUSES,
    ):
        exception_resolve(
            exception_id=item.pk,
            actor=actor,
            reason=f"Merged {merged.code} into {survivor.code}: {reason.strip()}",
        )
    cache.bump_on_commit()
    return record


def record_history_ids(*, model, record_id: int) -> list[int]:
    """The ids whose history belongs to this record: itself and everything merged into it,
    directly or through earlier merges."""
    entity_type = "supplier" if model is Supplier else "item"
    ids, frontier = [record_id], [record_id]
    while frontier:
        frontier = list(
            MergeRecord.objects.filter(entity_type=entity_type, survivor_id__in=frontier)
            .exclude(merged_id__in=ids)
            .values_list("merged_id", flat=True)
        )
        ids += frontier
    return ids
