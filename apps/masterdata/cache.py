"""The lookup cache: per-process answers, dropped everywhere when master data changes.

A generation counter in Redis is bumped after every committed change of master data (model
signals, and explicitly by services that update in bulk). Each process keeps its answers
under the generation it read; a new generation empties the local store. If Redis cannot be
reached the cache is bypassed, and local answers never live longer than a minute anyway.
"""

import logging
import time

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from apps.core.redis import redis_client

logger = logging.getLogger(__name__)

_GENERATION_KEY = "hubconsole:masterdata:generation"
MAX_AGE_SECONDS = 60.0
MAX_ENTRIES = 500_000


class _Store:
    def __init__(self):
        self.generation: int | None = None
        self.started = 0.0
        self.entries: dict = {}


_store = _Store()


def current_generation() -> int | None:
    """The generation to cache under, or None when the cache must be bypassed."""
    try:
        return int(redis_client().get(_GENERATION_KEY) or 0)
    except Exception as error:
        logger.warning("master-data cache bypassed: %s", type(error).__name__)
        return None


def entries(generation: int) -> dict:
    """The local store for ``generation`` (emptied when it changed, aged out or grew too big)."""
    now = time.monotonic()
    if (
        _store.generation != generation
        or now - _store.started > MAX_AGE_SECONDS
        or len(_store.entries) > MAX_ENTRIES
    ):
        _store.generation, _store.started, _store.entries = generation, now, {}
    return _store.entries


def bump() -> None:
    try:
        redis_client().incr(_GENERATION_KEY)
    except Exception as error:
        logger.warning("master-data cache generation not bumped: %s", type(error).__name__)
    _store.entries = {}


def bump_on_commit() -> None:
    transaction.on_commit(bump)


def _changed(sender, **kwargs) -> None:
    bump_on_commit()


def invalidate_on_change(model) -> None:
    """Any save or delete of ``model`` invalidates every process's lookups (after commit)."""
    uid = f"masterdata-cache-{model._meta.label_lower}"
    post_save.connect(_changed, sender=model, weak=False, dispatch_uid=f"{uid}-save")
    post_delete.connect(_changed, sender=model, weak=False, dispatch_uid=f"{uid}-delete")
