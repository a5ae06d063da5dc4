"""Builders of bulk replay tests: failed transactions with open exceptions, jobs, a recorder of
the tasks sent to the broker."""

import itertools

import pytest

from apps.connectors.models import Connector
from apps.exceptions.models import BusinessException
from apps.pipeline.choices import WorkStageChoices as Stage
from apps.pipeline.models import Transaction
from apps.pipeline.services import work_drain
from apps.replays import services
from tests.conftest import make_webhook
from tests.pipeline.builders import receive_json

_keys = itertools.count(1)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Personas are created with a password; PBKDF2 costs ~0.3 s per user and buys nothing here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def source(db) -> Connector:
    return make_webhook(slug="portal")


@pytest.fixture
def make_failed(source):
    """``n`` inbound transactions stopped with an open SCHEMA_INVALID exception (replayable)."""

    def make(n: int = 1) -> list[Transaction]:
        ids = [
            receive_json(
                source, key=f"bad-{next(_keys)}", raw=b'{"patient": "Jane Roe", "no": "id"}'
            ).transaction_id
            for _ in range(n)
        ]
        work_drain(stage=Stage.PROCESS)
        failed = list(Transaction.objects.filter(pk__in=ids).order_by("pk"))
        assert {tx.status for tx in failed} == {"exception"}
        return failed

    return make


def exception_of(tx: Transaction) -> BusinessException:
    return BusinessException.objects.get(transaction=tx, status="open")


@pytest.fixture
def sent_tasks(monkeypatch):
    """What would have gone to the broker: (task name, kwargs), in order."""
    sent: list[tuple[str, dict]] = []

    def send_task(name, args=None, kwargs=None, **options):
        sent.append((name, kwargs or {}))

    monkeypatch.setattr(services.current_app, "send_task", send_task)
    return sent
