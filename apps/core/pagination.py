"""Keyset pagination: newest first by id, so a deep page costs what the first one costs."""

from dataclasses import dataclass

from django.db.models import QuerySet


@dataclass(frozen=True)
class KeysetPage:
    rows: list
    next_before: int | None  # pass as ?before= to get the next (older) page
    first: bool
    query: str  # the request's other query parameters, for building page links


def keyset_page(queryset: QuerySet, *, params, size: int = 50) -> KeysetPage:
    """One page of ``queryset`` below ``params["before"]`` (an id), ordered by descending id."""
    raw = params.get("before", "")
    before = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else None
    if before is not None:
        queryset = queryset.filter(id__lt=before)
    rows = list(queryset.order_by("-id")[: size + 1])
    query = params.copy()
    query.pop("before", None)
    return KeysetPage(
        rows=rows[:size],
        next_before=rows[size - 1].pk if len(rows) > size else None,
        first=before is None,
        query=query.urlencode(),
    )
