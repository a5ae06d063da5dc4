"""Behaviour of the simulated targets: idempotent acceptance and injected faults."""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from apps.sandbox.choices import FaultModeChoices
from apps.sandbox.models import SandboxFault, SandboxPosting


@dataclass(frozen=True)
class Fault:
    mode: str
    status: int
    retry_after: int | None
    latency_ms: int


@dataclass(frozen=True)
class Accepted:
    reference: str
    replayed: bool


class KeyReused(Exception):
    """The idempotency key was used before with a different body."""


def fault_take(*, target: str, also: Sequence[str] = ()) -> Fault | None:
    """Consume one injection of the oldest active fault for ``target``, if any.

    ``also`` names narrower targets that match too (the ERP's ``erp-receipts`` besides
    ``erp``). One statement in autocommit: the row lock serialises concurrent requests, so
    "the next N requests" means exactly N.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE sandbox_sandboxfault SET remaining = remaining - 1
            WHERE id = (
                SELECT id FROM sandbox_sandboxfault
                WHERE (target = ANY(%s) OR target = '*')
                  AND (remaining IS NULL OR remaining > 0)
                  AND (active_until IS NULL OR active_until > now())
                ORDER BY id LIMIT 1
                FOR UPDATE
            )
            RETURNING mode, status, retry_after, latency_ms
            """,
            [[target, *also]],
        )
        row = cursor.fetchone()
    return Fault(*row) if row else None


def fault_add(
    *,
    target: str,
    mode: str,
    status: int = 503,
    retry_after: int | None = None,
    latency_ms: int = 0,
    count: int | None = None,
    seconds: float | None = None,
) -> SandboxFault:
    if mode not in FaultModeChoices.values:
        raise ValueError(f"mode must be one of {FaultModeChoices.values}")
    if count is None and seconds is None:
        raise ValueError("Give count, seconds or both, so the fault ends by itself.")
    return SandboxFault.objects.create(
        target=target,
        mode=mode,
        status=status,
        retry_after=retry_after,
        latency_ms=latency_ms,
        remaining=count,
        active_until=timezone.now() + timedelta(seconds=seconds) if seconds else None,
    )


def faults_clear() -> int:
    return SandboxFault.objects.all().delete()[0]


def posting_accept(*, target: str, idempotency_key: str, body: dict) -> Accepted:
    """Store a posting once per key; the same key and body again is a replay.

    One upsert: a new key inserts, a replay with the same body counts a replay, and a reused
    key with another body matches nothing and is looked up to report the conflict.
    """
    sha = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO sandbox_sandboxposting AS p
                (target, idempotency_key, body_sha256, body, reference, replays, received_at)
            VALUES (%s, %s, %s, %s::jsonb,
                    'ERP-' || nextval('sandbox_sandboxposting_id_seq'), 0, now())
            ON CONFLICT (target, idempotency_key) DO UPDATE SET replays = p.replays + 1
                WHERE p.body_sha256 = EXCLUDED.body_sha256
            RETURNING reference, (xmax = 0) AS inserted
            """,
            [target, idempotency_key, sha, json.dumps(body)],
        )
        row = cursor.fetchone()
        if row is None:
            cursor.execute(
                "SELECT reference FROM sandbox_sandboxposting "
                "WHERE target = %s AND idempotency_key = %s",
                [target, idempotency_key],
            )
            raise KeyReused(cursor.fetchone()[0])
    reference, inserted = row
    return Accepted(reference, replayed=not inserted)


def postings_summary(*, target: str) -> dict:
    postings = SandboxPosting.objects.filter(target=target)
    return {
        "target": target,
        "postings": postings.count(),
        "replays_answered": sum(postings.values_list("replays", flat=True)),
    }
