"""File pickup (local folder or SFTP): store each ready file, then archive it.

The order is what makes pickup safe: a file is moved to the archive only after its bytes are
committed. A crash in between leaves the file in place; the next run finds its checksum
already stored, records "duplicate suppressed" and archives it. Files that cannot be taken
(too large, empty) go to the error folder with a note saying why.
"""

import logging

from django.conf import settings
from django.db import connection
from django.utils import timezone

from apps.connectors.choices import (
    ConnectorKindChoices,
    ConnectorRunKindChoices,
    ConnectorRunStatusChoices,
)
from apps.connectors.models import Connector, ConnectorRun
from apps.connectors.services import connector_states_ensure
from apps.connectors.sources import FileSource, LocalFolderSource, RemoteFile, SftpSource
from apps.core.errors import HubError
from apps.exceptions.catalogue import codes
from apps.pipeline.services import InboundMessage, content_hash, transaction_receive

logger = logging.getLogger(__name__)

SOURCES: dict[str, type[FileSource]] = {
    ConnectorKindChoices.FILE_IN: LocalFolderSource,
    ConnectorKindChoices.SFTP_IN: SftpSource,
}


def _stamped(name: str, sha: str) -> str:
    # Archived names never collide: the same name can arrive again tomorrow with new content.
    return f"{timezone.now():%Y%m%dT%H%M%S}-{sha[:12]}-{name}"


def _reject(source: FileSource, file: RemoteFile, run: ConnectorRun, reason: str) -> None:
    name = _stamped(file.name, "rejected")
    source.move(file, source.error_path, name)
    source.write_note(source.error_path, f"{name}.reason.txt", reason + "\n")
    run.rejected += 1


# Advisory-lock namespace of pickups: (this, connector id) is held for the length of a run.
_PICKUP_LOCK = 7301


def connector_pickup(*, connector_id: int) -> ConnectorRun | None:
    """Take every ready file of a pickup connector; returns the run record, or None when a
    pickup of this connector is already running (two would race for the same files)."""
    connector = Connector.objects.get(pk=connector_id)
    if connector.kind not in SOURCES:
        raise HubError(codes.DELIVERY_REJECTED, f"{connector} is not a pickup connector.")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_PICKUP_LOCK, connector.pk])
        if not cursor.fetchone()[0]:
            logger.info("pickup %s skipped: the previous one is still running", connector.slug)
            return None
    try:
        return _pickup(connector)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_PICKUP_LOCK, connector.pk])


def _pickup(connector: Connector) -> ConnectorRun:
    run = ConnectorRun.objects.create(connector=connector, kind=ConnectorRunKindChoices.PICKUP)
    limit = settings.HUBCONSOLE["FILE_MAX_BYTES"]
    source = SOURCES[connector.kind](connector.settings)
    problems = []
    try:
        for file in source.ready_files():
            run.seen += 1
            try:
                if file.size > limit:
                    _reject(source, file, run, f"File is {file.size} bytes; the limit is {limit}.")
                    continue
                if file.size == 0:
                    _reject(source, file, run, "File is empty.")
                    continue
                data = source.read(file)
                if len(data) != file.size:
                    continue  # still being written after all; next run takes it
                sha = content_hash(data)
                received = transaction_receive(
                    message=InboundMessage(
                        connector_id=connector.pk,
                        format=connector.format,
                        document_type=connector.document_type,
                        raw=data,
                        idempotency_key=f"in:{connector.pk}:file:{sha}",
                        metadata={
                            "channel": connector.kind,
                            "filename": file.name,
                            "size": file.size,
                        },
                    )
                )
                source.move(file, source.archive_path, _stamped(file.name, sha))
                if received.outcome == "accepted":
                    run.accepted += 1
                elif received.outcome == "duplicate":
                    run.duplicates += 1
                else:
                    run.rejected += 1
            except (OSError, HubError) as error:
                problems.append(f"{file.name}: {error}")
    except HubError as error:
        problems.append(str(error))
    except Exception as error:
        # Never leave a run "running": record the failure, keep the traceback in the log.
        logger.exception("pickup of %s failed", connector.slug)
        problems.append(f"unexpected {type(error).__name__}")
    finally:
        try:
            source.close()
        except Exception as error:  # closing must never hide the run's outcome
            logger.warning("closing pickup source of %s failed: %s", connector.slug, error)
    run.error = "\n".join(problems)[:5000]
    if problems:
        run.status = (
            ConnectorRunStatusChoices.PARTIAL if run.accepted else ConnectorRunStatusChoices.FAILED
        )
    elif run.rejected:
        run.status = ConnectorRunStatusChoices.PARTIAL
    else:
        run.status = ConnectorRunStatusChoices.SUCCEEDED
    run.finished_at = timezone.now()
    run.save()
    logger.info(
        "pickup %s: seen %d, accepted %d, duplicates %d, rejected %d, problems %d",
        connector.slug,
        run.seen,
        run.accepted,
        run.duplicates,
        run.rejected,
        len(problems),
    )
    return run


def connectors_due_for_pickup() -> list[int]:
    """Claim the pickup connectors whose interval has passed (one claimer wins each)."""
    connector_states_ensure(
        connector_ids=Connector.objects.filter(kind__in=list(SOURCES)).values_list("id", flat=True)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE connectors_connectorstate s
            SET next_pickup_at = now() + make_interval(secs => c.poll_interval_seconds)
            FROM connectors_connector c
            WHERE c.id = s.connector_id AND c.kind = ANY(%s) AND c.enabled AND NOT c.paused
              AND (s.next_pickup_at IS NULL OR s.next_pickup_at <= now())
            RETURNING c.id
            """,
            [list(SOURCES)],
        )
        return [row[0] for row in cursor.fetchall()]
