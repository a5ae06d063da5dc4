"""What the procure-to-pay steps share: routing to connectors and asking master data."""

import datetime
import json
from collections.abc import Iterable
from decimal import Decimal

from apps.connectors.models import Connector
from apps.core.errors import HubError
from apps.exceptions.catalogue import codes
from apps.masterdata.lookup import (
    LookupKey,
    Resolved,
    lookup_many,
    outbound_codes,
    outbound_miss,
)

ERP = "ERP"


def route(settings: dict, name: str) -> int:
    """The outbound connector a connector's settings name for ``name`` (e.g. ``erp_orders``)."""
    slug = settings.get(name)
    if not slug:
        raise HubError(
            codes.VALUE_MAPPING_MISSING,
            f"The connector's settings do not say where {name.replace('_', ' ')} go "
            f"(setting {name!r}).",
            root_cause_key=f"route:{name}",
        )
    connector_id = Connector.objects.filter(slug=slug).values_list("pk", flat=True).first()
    if connector_id is None:
        raise HubError(
            codes.VALUE_MAPPING_MISSING,
            f"No connector {slug!r} for {name.replace('_', ' ')}.",
            root_cause_key=f"route:{name}",
        )
    return connector_id


def resolve_all(keys: Iterable[LookupKey], *, on: datetime.date) -> dict[LookupKey, Resolved]:
    """Resolve every key; the first miss is raised, carrying the others, so one exception per
    message names everything that is missing (each groups under its own root cause)."""
    answers = lookup_many(keys, on=on)
    misses = [answer for answer in answers.values() if not answer.ok]
    if misses:
        raise_misses(misses)
    return answers


def raise_misses(misses: list[Resolved]) -> None:
    error = misses[0].error()
    if len(misses) > 1:
        error.details["also_missing"] = [
            {"code": m.miss, "key": m.key.root_cause_key, "reason": m.reason} for m in misses[1:]
        ]
        error.message += f" ({len(misses) - 1} more problem(s) in this message.)"
    raise error


def erp_codes(entity_type: str, records: dict[int, str], *, on: datetime.date) -> dict[int, str]:
    """The ERP's codes for ``records`` ({id: canonical code}); a record without one raises."""
    found = outbound_codes(system=ERP, entity_type=entity_type, record_ids=records, on=on)
    for record_id, code in records.items():
        if record_id not in found:
            raise outbound_miss(system=ERP, entity_type=entity_type, canonical_code=code)
    return found


def money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def number(value: Decimal) -> str:
    """A quantity or price as plain text without trailing zeros (10, 12.5, 0.125)."""
    return f"{value.normalize():f}"


def json_body(document: dict) -> bytes:
    """Bytes that are the same for the same document: sort keys, no whitespace."""
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
