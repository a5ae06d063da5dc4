"""Local folder pickup: store each ready file byte-exact, then archive it; reject the unfit."""

import hashlib
import json
import re

import pytest

from apps.connectors.choices import ConnectorKindChoices, ConnectorRunStatusChoices
from apps.connectors.models import Connector, ConnectorRun, ConnectorState
from apps.connectors.pickup import connector_pickup, connectors_due_for_pickup
from apps.core.errors import HubError
from apps.pipeline.choices import (
    DirectionChoices,
    TransactionEventKindChoices,
    TransactionStatusChoices,
    WorkStageChoices,
)
from apps.pipeline.models import Transaction, TransactionEvent, WorkItem
from apps.pipeline.services import InboundMessage, transaction_receive
from tests.conftest import make_rest_target
from tests.connectors.conftest import assert_nothing_stored, drop_file, make_file_connector

DOC = json.dumps({"id": "INV-1", "total": "10.00"}).encode()


def _stamped_pattern(name: str, tag: str) -> re.Pattern:
    return re.compile(rf"^\d{{8}}T\d{{6}}-{re.escape(tag)}-{re.escape(name)}$")


def _only(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_pickup_ready_file_is_stored_archived_and_counted(db, inbox):
    connector = make_file_connector(inbox)
    drop_file(inbox, "invoice-1.json", DOC)

    run = connector_pickup(connector_id=connector.pk)

    sha = hashlib.sha256(DOC).hexdigest()
    tx = Transaction.objects.get()
    assert bytes(tx.raw) == DOC
    assert tx.content_sha256 == sha
    assert tx.connector == connector
    assert tx.direction == DirectionChoices.INBOUND
    assert tx.status == TransactionStatusChoices.RECEIVED
    assert tx.idempotency_key == f"in:{connector.pk}:file:{sha}"
    assert tx.metadata == {"channel": "file_in", "filename": "invoice-1.json", "size": len(DOC)}
    assert TransactionEvent.objects.get().kind == TransactionEventKindChoices.RECEIVED
    assert WorkItem.objects.get().stage == WorkStageChoices.PROCESS
    assert _only(inbox) == ["archive"]
    [archived] = (inbox / "archive").iterdir()
    assert _stamped_pattern("invoice-1.json", sha[:12]).match(archived.name), archived.name
    assert archived.read_bytes() == DOC
    run.refresh_from_db()
    assert run == ConnectorRun.objects.get()
    assert run.status == ConnectorRunStatusChoices.SUCCEEDED
    assert (run.seen, run.accepted, run.duplicates, run.rejected) == (1, 1, 0, 0)
    assert run.error == ""
    assert run.finished_at is not None
    assert run.finished_at >= run.started_at


def test_pickup_takes_several_files_oldest_first(db, inbox):
    connector = make_file_connector(inbox)
    drop_file(inbox, "b.json", b'{"id": "B"}', age=100)
    drop_file(inbox, "a.json", b'{"id": "A"}', age=50)
    drop_file(inbox, "c.json", b'{"id": "C"}', age=200)

    run = connector_pickup(connector_id=connector.pk)

    assert (run.seen, run.accepted) == (3, 3)
    names = list(Transaction.objects.order_by("id").values_list("metadata__filename", flat=True))
    assert names == ["c.json", "b.json", "a.json"]
    assert len(list((inbox / "archive").iterdir())) == 3


def test_pickup_leaves_file_younger_than_min_age(db, inbox):
    connector = make_file_connector(inbox, settings={"min_age_seconds": 30})
    fresh = drop_file(inbox, "fresh.json", DOC, age=0)
    drop_file(inbox, "settled.json", b'{"id": "S"}', age=31)

    run = connector_pickup(connector_id=connector.pk)

    assert (run.seen, run.accepted) == (1, 1)
    assert Transaction.objects.get().metadata["filename"] == "settled.json"
    assert fresh.read_bytes() == DOC
    assert _only(inbox) == ["archive", "fresh.json"]


@pytest.mark.parametrize(
    "name", [".hidden.json", "upload.json.part", "upload.tmp", "UPLOAD.JSON.PART", "x.filepart"]
)
def test_pickup_ignores_dotfiles_and_partial_uploads(db, inbox, name):
    connector = make_file_connector(inbox)
    drop_file(inbox, name, DOC)
    drop_file(inbox, "real.json", b'{"id": "R"}')

    run = connector_pickup(connector_id=connector.pk)

    assert (run.seen, run.accepted) == (1, 1)
    assert Transaction.objects.get().metadata["filename"] == "real.json"
    assert (inbox / name).read_bytes() == DOC


def test_pickup_pattern_selects_files(db, inbox):
    connector = make_file_connector(inbox, settings={"pattern": "*.json"})
    drop_file(inbox, "readme.txt", b"not for us")
    drop_file(inbox, "po.json", DOC)

    run = connector_pickup(connector_id=connector.pk)

    assert (run.seen, run.accepted) == (1, 1)
    assert _only(inbox) == ["archive", "readme.txt"]


def test_pickup_same_content_in_new_file_is_duplicate_and_archived(db, inbox):
    connector = make_file_connector(inbox)
    drop_file(inbox, "first.json", DOC)
    connector_pickup(connector_id=connector.pk)
    drop_file(inbox, "second.json", DOC)

    run = connector_pickup(connector_id=connector.pk)

    assert (run.seen, run.accepted, run.duplicates, run.rejected) == (1, 0, 1, 0)
    assert run.status == ConnectorRunStatusChoices.SUCCEEDED
    tx = Transaction.objects.get()
    suppressed = TransactionEvent.objects.get(kind=TransactionEventKindChoices.DUPLICATE_SUPPRESSED)
    assert suppressed.transaction_id == tx.pk
    assert suppressed.detail["metadata"]["filename"] == "second.json"
    assert WorkItem.objects.count() == 1
    assert _only(inbox) == ["archive"]
    archived = _only(inbox / "archive")
    assert len(archived) == 2
    assert any(name.endswith("-second.json") for name in archived)


def test_pickup_same_name_again_with_new_content_is_new_message(db, inbox):
    connector = make_file_connector(inbox)
    drop_file(inbox, "daily.json", b'{"id": "D1"}')
    connector_pickup(connector_id=connector.pk)
    drop_file(inbox, "daily.json", b'{"id": "D2"}')

    run = connector_pickup(connector_id=connector.pk)

    assert run.accepted == 1
    assert Transaction.objects.count() == 2
    assert len(_only(inbox / "archive")) == 2


def test_pickup_oversized_file_goes_to_error_with_reason(db, inbox, settings):
    settings.HUBCONSOLE = {**settings.HUBCONSOLE, "FILE_MAX_BYTES": 1024}
    connector = make_file_connector(inbox)
    big = b'{"pad": "' + b"x" * 2000 + b'"}'
    drop_file(inbox, "big.json", big)

    run = connector_pickup(connector_id=connector.pk)

    assert (run.seen, run.accepted, run.rejected) == (1, 0, 1)
    assert_nothing_stored()
    assert _only(inbox) == ["error"]
    moved, note = sorted((inbox / "error").iterdir(), key=lambda p: len(p.name))
    assert _stamped_pattern("big.json", "rejected").match(moved.name), moved.name
    assert moved.read_bytes() == big
    assert note.name == f"{moved.name}.reason.txt"
    assert note.read_text() == f"File is {len(big)} bytes; the limit is 1024.\n"


def test_pickup_file_exactly_at_limit_is_taken(db, inbox, settings):
    settings.HUBCONSOLE = {**settings.HUBCONSOLE, "FILE_MAX_BYTES": 1024}
    connector = make_file_connector(inbox)
    data = b"x" * 1024
    drop_file(inbox, "edge.dat", data)

    run = connector_pickup(connector_id=connector.pk)

    assert (run.accepted, run.rejected) == (1, 0)
    assert bytes(Transaction.objects.get().raw) == data


def test_pickup_empty_file_goes_to_error_with_reason(db, inbox):
    connector = make_file_connector(inbox)
    drop_file(inbox, "empty.json", b"")

    run = connector_pickup(connector_id=connector.pk)

    assert (run.seen, run.accepted, run.rejected) == (1, 0, 1)
    assert_nothing_stored()
    assert _only(inbox) == ["error"]
    notes = list((inbox / "error").glob("*.reason.txt"))
    assert [p.read_text() for p in notes] == ["File is empty.\n"]
    assert notes[0].name.endswith("-rejected-empty.json.reason.txt")


def test_pickup_missing_folder_fails_run_with_clear_error(db, tmp_path):
    missing = tmp_path / "not-there"
    connector = make_file_connector(missing)

    run = connector_pickup(connector_id=connector.pk)

    run.refresh_from_db()
    assert run.status == ConnectorRunStatusChoices.FAILED
    assert run.error == f"TARGET_UNAVAILABLE: The pickup folder {missing} does not exist."
    assert run.seen == 0
    assert run.finished_at is not None
    assert_nothing_stored()


def test_pickup_after_crash_between_commit_and_archive_records_duplicate(db, inbox):
    connector = make_file_connector(inbox)
    drop_file(inbox, "po-9.json", DOC)
    sha = hashlib.sha256(DOC).hexdigest()
    # The previous run stored the bytes, then died before moving the file.
    stored = transaction_receive(
        message=InboundMessage(
            connector_id=connector.pk,
            format=connector.format,
            document_type=connector.document_type,
            raw=DOC,
            idempotency_key=f"in:{connector.pk}:file:{sha}",
        )
    )

    run = connector_pickup(connector_id=connector.pk)

    assert (run.seen, run.accepted, run.duplicates) == (1, 0, 1)
    assert run.status == ConnectorRunStatusChoices.SUCCEEDED
    assert Transaction.objects.get().pk == stored.transaction_id
    assert list(TransactionEvent.objects.order_by("id").values_list("kind", flat=True)) == [
        TransactionEventKindChoices.RECEIVED,
        TransactionEventKindChoices.DUPLICATE_SUPPRESSED,
    ]
    assert _only(inbox) == ["archive"]
    [archived] = (inbox / "archive").iterdir()
    assert _stamped_pattern("po-9.json", sha[:12]).match(archived.name)


def test_pickup_utf16_file_with_bom_is_stored_byte_exact(db, inbox):
    connector = make_file_connector(inbox)
    data = '{"id": "INV-Ü", "supplier": "Müller & Søn"}'.encode("utf-16")
    assert data[:2] in {b"\xff\xfe", b"\xfe\xff"}
    drop_file(inbox, "utf16.json", data)

    connector_pickup(connector_id=connector.pk)

    tx = Transaction.objects.get()
    assert bytes(tx.raw) == data
    assert tx.raw_size == len(data)
    assert tx.content_sha256 == hashlib.sha256(data).hexdigest()


def test_pickup_uses_configured_archive_and_error_paths(db, inbox, tmp_path):
    connector = make_file_connector(
        inbox,
        settings={"archive_path": str(tmp_path / "done"), "error_path": str(tmp_path / "bad")},
    )
    drop_file(inbox, "good.json", DOC)
    drop_file(inbox, "empty.json", b"")

    run = connector_pickup(connector_id=connector.pk)

    assert (run.accepted, run.rejected) == (1, 1)
    assert _only(inbox) == []
    assert len(_only(tmp_path / "done")) == 1
    assert len(_only(tmp_path / "bad")) == 2


def test_pickup_refuses_non_pickup_connector(db):
    target = make_rest_target("http://127.0.0.1:9/documents")

    with pytest.raises(HubError) as caught:
        connector_pickup(connector_id=target.pk)

    assert caught.value.code == "DELIVERY_REJECTED"
    assert ConnectorRun.objects.count() == 0


def test_pickup_due_claims_each_ready_connector_once(db, tmp_path):
    due = make_file_connector(tmp_path, slug="due")
    paused = make_file_connector(tmp_path, slug="paused", paused=True)
    disabled = make_file_connector(tmp_path, slug="disabled", enabled=False)
    sftp = Connector.objects.create(
        slug="sftp", name="SFTP", kind=ConnectorKindChoices.SFTP_IN, settings={"path": "/"}
    )
    make_rest_target("http://127.0.0.1:9/documents")

    first = connectors_due_for_pickup()
    second = connectors_due_for_pickup()

    assert sorted(first) == sorted([due.pk, sftp.pk])
    assert second == []
    assert ConnectorState.objects.get(pk=due.pk).next_pickup_at is not None
    assert ConnectorState.objects.get(pk=paused.pk).next_pickup_at is None
    assert ConnectorState.objects.get(pk=disabled.pk).next_pickup_at is None


@pytest.mark.django_db(transaction=True)
def test_pickup_does_not_run_twice_at_once_for_one_connector(inbox):
    import psycopg

    from tests.conftest import database_url_of_tests

    connector = make_file_connector(inbox)
    drop_file(inbox, "a.json", b'{"id": "A"}')
    # Another worker's pickup of this connector is still running: it holds the lock.
    with psycopg.connect(database_url_of_tests(), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(7301, %s)", [connector.pk])
        assert connector_pickup(connector_id=connector.pk) is None
        assert (inbox / "a.json").exists()
        assert not ConnectorRun.objects.exists()

    run = connector_pickup(connector_id=connector.pk)  # the lock was released with that session
    assert run.accepted == 1
