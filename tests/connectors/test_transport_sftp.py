"""Outbound SFTP against a real SFTP server: complete files only, once per idempotency key."""

import asyncssh
import pytest

from apps.connectors.choices import ConnectorKindChoices
from apps.connectors.models import Connector
from apps.connectors.transports import OutboundRequest, TransportError, transport_for
from tests.conftest import PASSWORD, PASSWORD_ENV, USERNAME

BODY = b"ISA*00*          *00*          *ZZ*HUBCONSOLE     *ZZ*ACME           *~"


@pytest.fixture
def partner_inbox(sftp_server):
    inbox = sftp_server.root / "to_partner"
    inbox.mkdir()
    return inbox


def sftp_target(server, **settings) -> Connector:
    return Connector.objects.create(
        slug="partner-edi-out",
        name="Partner EDI out",
        kind=ConnectorKindChoices.SFTP_OUT,
        settings={
            "host": "127.0.0.1",
            "port": server.port,
            "username": USERNAME,
            "password_env": PASSWORD_ENV,
            "host_key": server.public_key,
            "path": "/to_partner",
            **settings,
        },
    )


def request(key: str = "out:1:x12.850:PO-1:1", body: bytes = BODY) -> OutboundRequest:
    return OutboundRequest(
        body=body,
        idempotency_key=key,
        correlation_id="c-1",
        document_type="x12.850",
        document_id="PO-1",
        format="x12",
    )


@pytest.fixture
def password(monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


@pytest.mark.django_db
def test_a_posting_becomes_one_complete_file_named_by_its_key(sftp_server, partner_inbox, password):
    transport = transport_for(sftp_target(sftp_server))

    first = transport.send(request())
    again = transport.send(request())

    (written,) = partner_inbox.iterdir()
    assert written.read_bytes() == BODY
    assert written.name == first.reference
    assert written.name.startswith("850-PO-1-")
    assert written.suffix == ".x12"
    assert (first.replayed, again.replayed) == (False, True)
    assert not list(partner_inbox.glob(".*.part"))


@pytest.mark.django_db
def test_another_revision_is_another_file(sftp_server, partner_inbox, password):
    transport = transport_for(sftp_target(sftp_server))

    transport.send(request("out:1:x12.850:PO-1:1"))
    transport.send(request("out:1:x12.850:PO-1:2"))

    assert len(list(partner_inbox.iterdir())) == 2


@pytest.mark.django_db
def test_wrong_password_and_missing_folder_are_permanent_and_coded(
    sftp_server, partner_inbox, monkeypatch
):
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    with pytest.raises(TransportError) as refused:
        transport_for(sftp_target(sftp_server)).send(request())
    assert (refused.value.code, refused.value.transient) == ("AUTH_FAILED", False)

    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    Connector.objects.all().delete()
    with pytest.raises(TransportError) as missing:
        transport_for(sftp_target(sftp_server, path="/nowhere")).send(request())
    assert (missing.value.code, missing.value.transient) == ("DELIVERY_REJECTED", False)


@pytest.mark.django_db
def test_server_down_is_transient(password):
    from tests.conftest import free_port

    target = Connector.objects.create(
        slug="down",
        name="Down",
        kind=ConnectorKindChoices.SFTP_OUT,
        settings={
            "host": "127.0.0.1",
            "port": free_port(),
            "username": USERNAME,
            "password_env": PASSWORD_ENV,
            "host_key": asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode(),
            "path": "/x",
        },
    )
    with pytest.raises(TransportError) as down:
        transport_for(target).send(request(), timeout=3)
    assert (down.value.code, down.value.transient) == ("TARGET_UNAVAILABLE", True)


def test_settings_are_checked():
    from apps.connectors.validation import connector_settings_problems

    problems = connector_settings_problems(kind=ConnectorKindChoices.SFTP_OUT, settings={})
    assert "host is required" in problems
    assert "password_env or private_key_env is required" in problems
