"""Connector queries for inbound endpoints and screens."""

import time

from apps.connectors.models import Connector

# Inbound endpoints look their connector up on every request; a few seconds of staleness
# (pausing, disabling) is fine, a query per message at a thousand messages a second is not.
_CACHE_SECONDS = 5.0
_cache: dict[str, tuple[float, Connector]] = {}


def connector_get_inbound(*, slug: str) -> Connector | None:
    now = time.monotonic()
    hit = _cache.get(slug)
    if hit is not None and now - hit[0] < _CACHE_SECONDS:
        return hit[1]
    connector = Connector.objects.filter(slug=slug).first()
    if connector is not None:  # misses are not cached: unknown slugs must not grow memory
        _cache[slug] = (now, connector)
    return connector


def connector_cache_clear() -> None:
    _cache.clear()


def connector_list():
    return Connector.objects.select_related("state", "forward_to").order_by("name")
