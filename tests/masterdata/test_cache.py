"""The lookup cache: answers are reused until master data changes, in this and other processes."""

import json
import select
import subprocess
import sys

import pytest
from django.db import transaction

from apps.core.redis import redis_client
from apps.masterdata import cache
from apps.masterdata.lookup import LookupKey, lookup
from apps.masterdata.services import (
    crossref_approve,
    crossref_propose,
    crossref_retire,
    record_save,
)
from tests.conftest import ROOT
from tests.masterdata.builders import D, approved_xref, supplier

ON = D(2026, 3, 1)
KEY = LookupKey("ERP", "supplier", "V-77")


@pytest.fixture
def acme(erp):
    return supplier("ACME", "Acme")


def _cached_lookup(django_assert_num_queries):
    """Look KEY up twice; the second time must come from the cache."""
    first = lookup(KEY, on=ON)
    with django_assert_num_queries(0):
        assert lookup(KEY, on=ON) == first
    return first


def _approve(maker, checker, target):
    draft = crossref_propose(
        actor=maker,
        system="ERP",
        entity_type="supplier",
        external_code=KEY.code,
        target=target,
        effective_from=D(2026, 1, 1),
    )
    return crossref_approve(xref_id=draft.pk, actor=checker).record


@pytest.mark.django_db
def test_approving_a_mapping_changes_the_cached_answer(
    acme, steward, checker, django_assert_num_queries, django_capture_on_commit_callbacks
):
    assert _cached_lookup(django_assert_num_queries).miss == "SUPPLIER_UNKNOWN"

    with django_capture_on_commit_callbacks(execute=True):
        _approve(steward, checker, acme)

    answer = _cached_lookup(django_assert_num_queries)
    assert (answer.ok, answer.record_id) == (True, acme.pk)


@pytest.mark.django_db
def test_blocking_a_supplier_changes_the_cached_answer(
    acme, steward, checker, django_assert_num_queries, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        approved_xref(steward, checker, code=KEY.code, target=acme)
    assert _cached_lookup(django_assert_num_queries).ok

    acme.status = "blocked"
    with django_capture_on_commit_callbacks(execute=True):
        record_save(record=acme, actor=steward)

    assert _cached_lookup(django_assert_num_queries).miss == "SUPPLIER_BLOCKED"


@pytest.mark.django_db
def test_retiring_a_mapping_changes_the_cached_answer(
    acme, steward, checker, django_assert_num_queries, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        xref = approved_xref(steward, checker, code=KEY.code, target=acme)
    assert _cached_lookup(django_assert_num_queries).ok

    with django_capture_on_commit_callbacks(execute=True):
        crossref_retire(xref_id=xref.pk, actor=checker, reason="Ended", last_day=D(2026, 2, 28))

    assert _cached_lookup(django_assert_num_queries).miss == "SUPPLIER_UNKNOWN"


@pytest.mark.django_db
def test_the_generation_moves_on_commit_and_not_on_rollback(
    acme, steward, checker, django_capture_on_commit_callbacks
):
    draft = crossref_propose(
        actor=steward, system="ERP", entity_type="supplier", external_code="V-77", target=acme
    )
    before = cache.current_generation()

    def approve_in_a_failing_transaction():
        with transaction.atomic():
            crossref_approve(xref_id=draft.pk, actor=checker)
            raise RuntimeError("the caller's transaction fails")

    with django_capture_on_commit_callbacks() as rolled_back, pytest.raises(RuntimeError):
        approve_in_a_failing_transaction()
    assert rolled_back == []

    with django_capture_on_commit_callbacks() as committed:
        crossref_approve(xref_id=draft.pk, actor=checker)
    assert cache.current_generation() == before  # nothing committed yet
    for callback in committed:
        callback()
    assert cache.current_generation() > before


# --- Another process ----------------------------------------------------------------------------

# Each line on stdin asks for KEY twice and prints the answer and the queries each time cost.
_OTHER_PROCESS = """
import datetime, json, sys
from django.db import connection
from django.test.utils import CaptureQueriesContext
from apps.masterdata.lookup import LookupKey, lookup

key = LookupKey("ERP", "supplier", "V-77")
while sys.stdin.readline():
    costs = []
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            answer = lookup(key, on=datetime.date(2026, 3, 1))
        costs.append(len(queries.captured_queries))
    print(json.dumps({"miss": answer.miss, "record_id": answer.record_id, "queries": costs}))
    sys.stdout.flush()
"""


class OtherProcess:
    def __init__(self, env):
        self.popen = subprocess.Popen(
            [sys.executable, "manage.py", "shell", "-c", _OTHER_PROCESS],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def ask(self) -> dict:
        self.popen.stdin.write("\n")
        self.popen.stdin.flush()
        while True:
            ready, _, _ = select.select([self.popen.stdout], [], [], 60)
            line = self.popen.stdout.readline() if ready else ""
            if not line:
                self.popen.kill()
                pytest.fail(f"the other process did not answer: {self.popen.stderr.read()}")
            if line.startswith("{"):
                return json.loads(line)

    def stop(self) -> None:
        self.popen.stdin.close()
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(10)
        self.popen.stdout.close()
        self.popen.stderr.close()


@pytest.fixture
def other_process(process_env, transactional_db):
    process = OtherProcess(process_env)
    yield process
    process.stop()


def test_another_process_sees_each_committed_change(other_process, acme, steward, checker):
    unknown = {"miss": "SUPPLIER_UNKNOWN", "record_id": None}
    assert other_process.ask() == {**unknown, "queries": [1, 0]}
    # Nothing changed: that process keeps answering from its cache.
    assert other_process.ask() == {**unknown, "queries": [0, 0]}

    xref = _approve(steward, checker, acme)
    assert other_process.ask() == {"miss": None, "record_id": acme.pk, "queries": [1, 0]}

    acme.status = "blocked"
    record_save(record=acme, actor=steward)
    assert other_process.ask() == {
        "miss": "SUPPLIER_BLOCKED",
        "record_id": acme.pk,
        "queries": [1, 0],
    }

    crossref_retire(xref_id=xref.pk, actor=checker, reason="Ended", last_day=D(2026, 2, 28))
    assert other_process.ask() == {**unknown, "queries": [1, 0]}


# --- Without Redis ------------------------------------------------------------------------------


@pytest.fixture
def redis_down(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    redis_client.cache_clear()
    yield
    # The settings fixture restores REDIS_URL after this; the next client is built from it.
    redis_client.cache_clear()


@pytest.mark.django_db
def test_lookups_work_without_redis_and_are_never_stale(
    acme,
    steward,
    checker,
    redis_down,
    django_assert_num_queries,
    django_capture_on_commit_callbacks,
):
    for _ in range(2):  # no cache: every lookup asks the database
        with django_assert_num_queries(1):
            assert lookup(KEY, on=ON).miss == "SUPPLIER_UNKNOWN"

    with django_capture_on_commit_callbacks(execute=True):
        _approve(steward, checker, acme)  # the generation cannot be bumped; nothing breaks

    with django_assert_num_queries(1):
        assert lookup(KEY, on=ON).record_id == acme.pk
