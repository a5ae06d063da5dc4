"""Reads of master data for the console (the admin has its own)."""

from django.apps import apps
from django.db.models import Q

from apps.masterdata.choices import ApprovalStatusChoices
from apps.masterdata.entities import ENTITY_TYPES
from apps.masterdata.models import CrossReference

# Records that may be the target of a new mapping: in use, not merged away or blocked.
_MAPPABLE = ("active", "blocked")


def _label_field(model) -> str:
    return "name" if any(f.name == "name" for f in model._meta.fields) else "description"


def mapping_candidates(*, entity_type: str, term: str, limit: int = 20) -> list[dict]:
    """Records of ``entity_type`` whose code or name contains ``term``, for a steward choosing
    what an external code means: [{"pk", "code", "label", "status"}], codes first."""
    entity = ENTITY_TYPES.get(entity_type)
    term = term.strip()[:100]
    if entity is None or not term:
        return []
    model = apps.get_model(entity.model)
    label = _label_field(model)
    rows = (
        model.objects.filter(status__in=_MAPPABLE)
        .filter(Q(code__icontains=term) | Q(**{f"{label}__icontains": term}))
        .order_by("code")
        .values("pk", "code", label, "status")[:limit]
    )
    return [
        {"pk": row["pk"], "code": row["code"], "label": row[label], "status": row["status"]}
        for row in rows
    ]


def mapping_record(*, entity_type: str, pk=None, code: str = ""):
    """One mappable record of ``entity_type`` by primary key or code, or None."""
    entity = ENTITY_TYPES.get(entity_type)
    if entity is None or (pk in (None, "") and not code):
        return None
    model = apps.get_model(entity.model)
    queryset = model.objects.filter(status__in=_MAPPABLE)
    try:
        return queryset.get(pk=pk) if pk not in (None, "") else queryset.get(code=code)
    except (model.DoesNotExist, ValueError, TypeError):
        return None


def mapping_drafts(*, entity_type: str, system: str, external_code: str = "", target=None):
    """Proposals waiting for approval that would fix this root cause (either direction)."""
    queryset = CrossReference.objects.filter(
        status=ApprovalStatusChoices.DRAFT,
        entity_type=entity_type,
        external_system__code=system,
    ).select_related("external_system", "created_by", "content_type")
    if external_code:
        return list(queryset.filter(external_code=external_code).order_by("pk"))
    if target is None:
        return []
    return list(queryset.filter(object_id=target.pk).order_by("pk"))
