"""Builders for exception tests: a transaction to hang exceptions on, and an opened exception."""

import itertools

import pytest

from apps.connectors.choices import ConnectorKindChoices
from apps.connectors.models import Connector
from apps.exceptions.models import BusinessException
from apps.exceptions.services import ExceptionSpec, exceptions_open
from apps.pipeline.services import InboundMessage, transaction_receive

_keys = itertools.count(1)


@pytest.fixture
def inbound_connector(db):
    return Connector.objects.create(
        slug="supplier-portal", name="Supplier portal", kind=ConnectorKindChoices.WEBHOOK_IN
    )


@pytest.fixture
def make_transaction(inbound_connector):
    """Receive a fresh inbound message and return its transaction id."""

    def make() -> int:
        n = next(_keys)
        received = transaction_receive(
            message=InboundMessage(
                connector_id=inbound_connector.pk,
                format="json",
                document_type="generic.document",
                raw=f'{{"id": "DOC-{n}"}}'.encode(),
                idempotency_key=f"test:exceptions:{n}",
            )
        )
        assert received.outcome == "accepted"
        return received.transaction_id

    return make


@pytest.fixture
def open_exception(make_transaction):
    """Open one exception (a fresh transaction each time) and return it."""

    def open_(code: str = "PRICE_VARIANCE", **fields) -> BusinessException:
        transaction_id = fields.pop("transaction_id", None) or make_transaction()
        spec = ExceptionSpec(
            code=code,
            summary=fields.pop("summary", f"{code} on transaction {transaction_id}"),
            transaction_id=transaction_id,
            **fields,
        )
        (exception_id,) = exceptions_open([spec])
        return BusinessException.objects.get(pk=exception_id)

    return open_


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Personas are created with a password; PBKDF2 costs ~0.3 s per user and buys nothing here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
