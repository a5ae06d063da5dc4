"""Fixtures of core tests."""

import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Personas are created with a password; PBKDF2 costs ~0.3 s per user and buys nothing here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
