"""Readiness checks: database reachable, broker reachable, every migration applied."""

from dataclasses import dataclass

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from apps.core.redis import redis_client

_migrations_applied = False


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


def _database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return Check("database", True)
    except Exception as error:
        return Check("database", False, type(error).__name__)


def _broker() -> Check:
    try:
        redis_client().ping()
        return Check("broker", True)
    except Exception as error:
        return Check("broker", False, type(error).__name__)


def _migrations() -> Check:
    # Loading the migration graph costs ~100 ms; once everything is applied it stays applied
    # for the life of this process, so remember the good answer.
    global _migrations_applied
    if _migrations_applied:
        return Check("migrations", True)
    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as error:
        return Check("migrations", False, type(error).__name__)
    if pending:
        return Check("migrations", False, f"{len(pending)} unapplied")
    _migrations_applied = True
    return Check("migrations", True)


def readiness_checks() -> list[Check]:
    database = _database()
    checks = [database, _broker()]
    checks.append(_migrations() if database.ok else Check("migrations", False, "no database"))
    return checks
