"""Fixtures of master-data tests: a second steward, a fresh lookup cache, the ERP system."""

import pytest
from auditlog.context import auditlog_value

from apps.accounts import roles
from apps.masterdata import cache
from apps.masterdata.models import ExternalSystem, LegalEntity
from tests.conftest import _persona


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Personas are created with a password; PBKDF2 costs ~0.3 s per user and buys nothing here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _cold_lookup_cache(_isolated_redis_and_caches):
    """Redis was flushed (generation back to 0), but this process may still hold answers of
    an earlier test under generation 0: start every test with a new generation."""
    cache.bump()


@pytest.fixture(autouse=True)
def _no_stale_audit_actor():
    """django-auditlog keeps its actor context in a context variable that outlives a finished
    ``set_actor``; start every test without one, so attribution does not depend on which test
    ran before in this thread (test_governance shows why that matters)."""
    auditlog_value.set({})


@pytest.fixture
def checker(db):
    """A second data steward: the one who approves what ``steward`` (erin) proposes."""
    return _persona("sam", roles.DATA_STEWARD)


@pytest.fixture
def erp(db):
    return ExternalSystem.objects.create(code="ERP", name="The ERP")


@pytest.fixture
def legal_entity(db):
    return LegalEntity.objects.create(code="LE1", name="Mercy Health")
