"""Connector secrets: read only from environment variables under one prefix.

Connector settings name the variable (``secret_env``, ``token_env``, ``password_env``,
``private_key_env``); the value never enters the database. Only names under
``HUBCONSOLE_SECRET_`` are allowed, so a connector cannot be pointed at the application's own
secrets (``DJANGO_SECRET_KEY``, ``DATABASE_URL``) and send them to a host of its choosing.
"""

import os
import re

from apps.core.errors import HubError
from apps.exceptions.catalogue import codes

SECRET_ENV_PREFIX = "HUBCONSOLE_SECRET_"  # noqa: S105 (a name prefix, not a secret)
_NAME = re.compile(r"HUBCONSOLE_SECRET_[A-Z0-9_]+")
SECRET_SETTINGS = (
    "secret_env",
    "previous_secret_env",
    "token_env",
    "password_env",
    "private_key_env",
)


def secret_name_problem(name: str) -> str | None:
    """Why ``name`` may not hold a connector secret, or None if it may."""
    if not _NAME.fullmatch(name or ""):
        return f"{name!r} is not allowed: connector secrets live in {SECRET_ENV_PREFIX}* variables"
    return None


def connector_secret(name: str | None) -> str | None:
    """The value of a connector secret variable; None when unset or empty."""
    if not name:
        return None
    problem = secret_name_problem(name)
    if problem:
        raise HubError(codes.AUTH_FAILED, problem)
    return os.environ.get(name) or None
