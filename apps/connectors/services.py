"""Connector services: pause and resume, the per-target rate limit and circuit breaker."""

from dataclasses import dataclass

from django.db import connection, transaction

from apps.connectors.models import Connector
from apps.core.audit import acting_as
from apps.core.errors import PermissionDenied
from apps.pipeline import doorbell
from apps.pipeline.choices import WorkStageChoices

ADMINISTER = "accounts.administer_connectors"
# The longest a target's Retry-After may pause it; past that, its messages retry on their own
# backoff and, if it stays unwilling, end in the exception queue.
MAX_HOLD_SECONDS = 3600.0


def _require_admin(actor) -> None:
    if actor is None or not actor.has_perm(ADMINISTER):
        raise PermissionDenied("You may not pause or resume connectors.")


@transaction.atomic
def connector_set_paused(*, connector_id: int, paused: bool, actor) -> Connector:
    """Pause (hold processing and delivery; inbound keeps accepting) or resume a connector."""
    _require_admin(actor)
    connector = Connector.objects.select_for_update().get(pk=connector_id)
    if connector.paused != paused:
        with acting_as(actor):
            connector.paused = paused
            connector.save(update_fields=["paused", "updated_at"])
    if not paused:
        for stage in WorkStageChoices.values:
            transaction.on_commit(lambda stage=stage: doorbell.ring(stage))
    return connector


@dataclass(frozen=True)
class Gate:
    """What a target allows right now: how many sends, and the breaker's running count."""

    granted: int
    consecutive_failures: int
    wait_seconds: float


# Token bucket and half-open breaker in one locked read-modify-write of the state row: a
# batch asks once, not once per message. A breaker past its cool-down but still at the failure
# threshold is half-open and lets exactly one probe through; an open breaker or a Retry-After
# hold (the batch was claimed before it began) grants nothing.
_GATE_SQL = """
WITH current AS (
    SELECT connector_id, consecutive_failures,
           CASE WHEN %(rate)s::float8 IS NULL THEN %(wanted)s::float8
                ELSE least(%(burst)s::float8, tokens + %(rate)s::float8 * extract(
                    epoch FROM now() - coalesce(tokens_at, now() - interval '1 day')))
           END AS available
    FROM connectors_connectorstate
    WHERE connector_id = %(id)s::bigint
    FOR UPDATE
), decision AS (
    SELECT c.connector_id, c.consecutive_failures, c.available,
           CASE WHEN s.opened_until > now() OR s.held_until > now() THEN 0
                ELSE least(%(wanted)s::int, floor(c.available)::int,
                           CASE WHEN c.consecutive_failures >= %(threshold)s::int THEN 1
                                ELSE %(wanted)s::int END)
           END AS granted
    FROM current c JOIN connectors_connectorstate s ON s.connector_id = c.connector_id
)
UPDATE connectors_connectorstate s
SET tokens = CASE WHEN %(rate)s::float8 IS NULL THEN 0 ELSE d.available - d.granted END,
    tokens_at = now(),
    -- A half-open probe is in flight: no other worker probes until it reports back.
    opened_until = CASE WHEN d.consecutive_failures >= %(threshold)s::int AND d.granted > 0
                        THEN now() + make_interval(secs => %(cooldown)s::float8)
                        ELSE s.opened_until END
FROM decision d
WHERE s.connector_id = d.connector_id
RETURNING d.granted, d.consecutive_failures, d.available - d.granted
"""


def connector_states_ensure(*, connector_ids) -> None:
    """Create the live-state rows of these connectors if they do not exist yet."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO connectors_connectorstate (connector_id, tokens, consecutive_failures, "
            "open_count, last_error_code) "
            "SELECT c.id, c.rate_limit_burst, 0, 0, '' FROM connectors_connector c "
            "WHERE c.id = ANY(%s) ON CONFLICT (connector_id) DO NOTHING",
            [list(connector_ids)],
        )


def connector_gate(*, connector: Connector, wanted: int) -> Gate:
    """Take up to ``wanted`` send permits from the target's rate limit and breaker."""
    rate = connector.rate_limit_per_second
    connector_states_ensure(connector_ids=[connector.pk])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            _GATE_SQL,
            {
                "id": connector.pk,
                "wanted": wanted,
                "rate": rate,
                "burst": max(1, connector.rate_limit_burst),
                "threshold": connector.breaker_threshold,
                "cooldown": connector.breaker_cooldown_seconds,
            },
        )
        granted, failures, left = cursor.fetchone()
    granted = max(0, int(granted))
    wait = 0.0
    if granted < wanted and rate:
        wait = max(0.0, (1.0 - left) / rate)
    return Gate(granted=granted, consecutive_failures=failures, wait_seconds=wait)


def connector_breaker_record(
    *,
    connector: Connector,
    consecutive_failures: int,
    succeeded: bool,
    last_error_code: str,
    hold_seconds: float | None = None,
) -> None:
    """Store the breaker's count after a batch; open it when the count reaches the threshold.

    Each time it opens in a row the cool-down doubles (up to 32x), so a target that stays down
    is probed less and less often; an answer closes it. ``hold_seconds`` pauses the target
    without counting a failure (a 429 means "slow down", not "down"); holds only ever
    lengthen, and an answer to another request does not lift them.
    """
    if hold_seconds is not None:
        hold_seconds = min(hold_seconds, MAX_HOLD_SECONDS)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE connectors_connectorstate
            SET consecutive_failures = %(failures)s::int,
                opened_until = CASE
                    WHEN %(failures)s::int = 0 THEN NULL
                    WHEN %(failures)s::int >= %(threshold)s::int THEN greatest(
                        now() + make_interval(secs => %(cooldown)s::float8
                                              * power(2, least(open_count, 5))),
                        opened_until)
                    ELSE opened_until
                    END,
                held_until = greatest(
                    held_until, now() + make_interval(secs => %(hold)s::float8)),
                open_count = CASE WHEN %(failures)s::int >= %(threshold)s::int THEN open_count + 1
                                  WHEN %(failures)s::int = 0 THEN 0 ELSE open_count END,
                last_success_at = CASE WHEN %(succeeded)s::boolean
                                       THEN now() ELSE last_success_at END,
                last_failure_at = CASE WHEN %(code)s::text <> ''
                                       THEN now() ELSE last_failure_at END,
                last_error_code = CASE WHEN %(code)s::text <> ''
                                       THEN %(code)s::text ELSE last_error_code END
            WHERE connector_id = %(id)s::bigint
            """,
            {
                "id": connector.pk,
                "failures": consecutive_failures,
                "threshold": connector.breaker_threshold,
                "cooldown": connector.breaker_cooldown_seconds,
                "succeeded": succeeded,
                "code": last_error_code,
                "hold": hold_seconds,
            },
        )
