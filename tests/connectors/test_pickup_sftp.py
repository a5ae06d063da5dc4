"""SFTP pickup against a real SFTP server (the sandbox's asyncssh server on a free port)."""

import hashlib
import json
import re

import asyncssh
import pytest

from apps.connectors.choices import ConnectorKindChoices, ConnectorRunStatusChoices
from apps.connectors.models import Connector, ConnectorRun
from apps.connectors.pickup import connector_pickup
from apps.pipeline.models import Transaction
from tests.conftest import PASSWORD, PASSWORD_ENV, USERNAME, free_port
from tests.connectors.conftest import assert_nothing_stored, drop_file

DOC = json.dumps({"id": "ASN-1", "lines": 3}).encode()


@pytest.fixture
def outbox(sftp_server):
    return sftp_server.root / "outbox"


def make_sftp_connector(server, *, settings: dict | None = None) -> Connector:
    return Connector.objects.create(
        slug="partner-sftp",
        name="Partner SFTP",
        kind=ConnectorKindChoices.SFTP_IN,
        settings={
            "host": "127.0.0.1",
            "port": server.port,
            "username": USERNAME,
            "password_env": PASSWORD_ENV,
            "host_key": server.public_key,
            "path": "/outbox",
            "min_age_seconds": 5,
            "timeout_seconds": 5,
            **(settings or {}),
        },
    )


@pytest.fixture
def password(monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


def test_sftp_pickup_stores_files_and_archives_them_on_server(db, sftp_server, outbox, password):
    connector = make_sftp_connector(sftp_server)
    drop_file(outbox, "asn-1.json", DOC)
    drop_file(outbox, "asn-2.json", b'{"id": "ASN-2"}', age=30)
    fresh = drop_file(outbox, "asn-3.json", b'{"id": "ASN-3"}', age=0)
    drop_file(outbox, "asn-4.json.part", b'{"id": "ASN-4"')

    run = connector_pickup(connector_id=connector.pk)

    run.refresh_from_db()
    assert run.status == ConnectorRunStatusChoices.SUCCEEDED, run.error
    assert (run.seen, run.accepted, run.duplicates, run.rejected) == (2, 2, 0, 0)
    stored = {tx.metadata["filename"]: bytes(tx.raw) for tx in Transaction.objects.all()}
    assert stored == {"asn-1.json": DOC, "asn-2.json": b'{"id": "ASN-2"}'}
    tx = Transaction.objects.get(metadata__filename="asn-1.json")
    sha = hashlib.sha256(DOC).hexdigest()
    assert tx.idempotency_key == f"in:{connector.pk}:file:{sha}"
    assert tx.metadata["channel"] == "sftp_in"
    assert sorted(p.name for p in outbox.iterdir()) == ["archive", "asn-3.json", "asn-4.json.part"]
    archived = sorted(p.name for p in (outbox / "archive").iterdir())
    assert len(archived) == 2
    pattern = re.compile(rf"^\d{{8}}T\d{{6}}-{sha[:12]}-asn-1\.json$")
    assert any(pattern.match(name) for name in archived), archived
    assert fresh.exists()


def test_sftp_pickup_duplicate_content_is_suppressed_and_archived(
    db, sftp_server, outbox, password
):
    connector = make_sftp_connector(sftp_server)
    drop_file(outbox, "one.json", DOC)
    connector_pickup(connector_id=connector.pk)
    drop_file(outbox, "again.json", DOC)

    run = connector_pickup(connector_id=connector.pk)

    assert (run.seen, run.accepted, run.duplicates) == (1, 0, 1)
    assert Transaction.objects.count() == 1
    assert [p.name for p in outbox.iterdir()] == ["archive"]
    assert len(list((outbox / "archive").iterdir())) == 2


def test_sftp_pickup_empty_file_goes_to_error_with_note_on_server(
    db, sftp_server, outbox, password
):
    connector = make_sftp_connector(sftp_server)
    drop_file(outbox, "blank.csv", b"")

    run = connector_pickup(connector_id=connector.pk)

    assert (run.seen, run.rejected) == (1, 1)
    assert_nothing_stored()
    notes = list((outbox / "error").glob("*.reason.txt"))
    assert [p.read_text() for p in notes] == ["File is empty.\n"]
    assert len(list((outbox / "error").iterdir())) == 2


def test_sftp_pickup_wrong_password_fails_run_and_stores_nothing(
    db, sftp_server, outbox, monkeypatch
):
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password")
    connector = make_sftp_connector(sftp_server)
    drop_file(outbox, "asn-1.json", DOC)

    run = connector_pickup(connector_id=connector.pk)

    run.refresh_from_db()
    assert run.status == ConnectorRunStatusChoices.FAILED
    assert run.error == "AUTH_FAILED: The SFTP server refused the credentials."
    assert run.seen == 0
    assert_nothing_stored()
    assert (outbox / "asn-1.json").read_bytes() == DOC


def test_sftp_pickup_wrong_host_key_is_refused(db, sftp_server, outbox, password):
    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    connector = make_sftp_connector(sftp_server, settings={"host_key": impostor})
    drop_file(outbox, "asn-1.json", DOC)

    run = connector_pickup(connector_id=connector.pk)

    run.refresh_from_db()
    assert run.status == ConnectorRunStatusChoices.FAILED
    assert run.error == "AUTH_FAILED: The SFTP server's host key does not match."
    assert_nothing_stored()
    assert (outbox / "asn-1.json").exists()


def test_sftp_pickup_without_host_key_is_refused(db, sftp_server, outbox, password):
    connector = make_sftp_connector(sftp_server, settings={"host_key": ""})
    drop_file(outbox, "asn-1.json", DOC)

    run = connector_pickup(connector_id=connector.pk)

    assert run.status == ConnectorRunStatusChoices.FAILED
    assert "host_key" in run.error
    assert_nothing_stored()


def test_sftp_pickup_host_key_that_is_not_a_key_is_refused(db, sftp_server, outbox, password):
    connector = make_sftp_connector(sftp_server, settings={"host_key": "ssh-ed25519 bm90LWEta2V5"})
    drop_file(outbox, "asn-1.json", DOC)

    run = connector_pickup(connector_id=connector.pk)

    assert run.status == ConnectorRunStatusChoices.FAILED
    assert run.error == "AUTH_FAILED: The configured host_key is not a public key."
    assert_nothing_stored()


def test_sftp_pickup_private_key_env_without_key_fails_run(db, sftp_server, monkeypatch):
    monkeypatch.delenv("HUBCONSOLE_SECRET_TEST_SFTP_KEY", raising=False)
    connector = make_sftp_connector(
        sftp_server,
        settings={"password_env": "", "private_key_env": "HUBCONSOLE_SECRET_TEST_SFTP_KEY"},
    )

    try:
        connector_pickup(connector_id=connector.pk)
    finally:
        run = ConnectorRun.objects.get()
        assert run.status == ConnectorRunStatusChoices.FAILED
        assert run.finished_at is not None
        assert_nothing_stored()


def test_sftp_pickup_unreachable_server_fails_run(db, sftp_server, password):
    connector = make_sftp_connector(sftp_server, settings={"port": free_port()})

    run = connector_pickup(connector_id=connector.pk)

    assert run.status == ConnectorRunStatusChoices.FAILED
    assert run.error.startswith("TARGET_UNAVAILABLE: Could not connect to the SFTP server")
    assert_nothing_stored()


def test_sftp_pickup_missing_remote_folder_fails_run(db, sftp_server, password):
    connector = make_sftp_connector(sftp_server, settings={"path": "/no-such-folder"})

    try:
        connector_pickup(connector_id=connector.pk)
    finally:
        run = ConnectorRun.objects.get()
        assert run.status == ConnectorRunStatusChoices.FAILED
        assert "no-such-folder" in run.error
        assert run.finished_at is not None
