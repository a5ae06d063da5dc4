"""Settings come from the environment and fail loudly when production is misconfigured.

Each case starts a fresh interpreter (settings are read once per process). The processes are
started together once per module, since each one spends about a second importing Django.
"""

import os
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
SETUP = ["-c", "import django; django.setup()"]
PRINT_DEBUG = [
    "-c",
    "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)",
]
DEPLOY_CHECK = ["manage.py", "check", "--deploy", "--fail-level", "WARNING"]


def _maintenance_database() -> str:
    # The deploy check opens a connection; aim it at the server's always-present maintenance
    # database, since the application database need not exist on a fresh machine.
    url = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/"))
    return urlunsplit(url._replace(path="/postgres"))


def _production(**overrides: str | None) -> dict[str, str | None]:
    return {
        "HUBCONSOLE_MODE": "production",
        "DATABASE_URL": _maintenance_database(),
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(48)[:60],
        "DJANGO_ALLOWED_HOSTS": "hubconsole.example.org",
        **overrides,
    }


# case name -> (argv after the interpreter, environment overrides; None removes a variable)
CASES = {
    "test_mode": (SETUP, {}),
    "production": (PRINT_DEBUG, _production()),
    "production_deploy_check": (DEPLOY_CHECK, _production()),
    "no_secret": (SETUP, _production(DJANGO_SECRET_KEY=None)),
    "short_secret": (SETUP, _production(DJANGO_SECRET_KEY="too-short")),
    "no_hosts": (SETUP, _production(DJANGO_ALLOWED_HOSTS=None)),
    "empty_hosts": (SETUP, _production(DJANGO_ALLOWED_HOSTS=" , ")),
    "lease_abc": (SETUP, {"HUBCONSOLE_LEASE_SECONDS": "abc"}),
    "lease_zero": (SETUP, {"HUBCONSOLE_LEASE_SECONDS": "0"}),
    "bad_mode": (SETUP, {"HUBCONSOLE_MODE": "staging"}),
    "mysql": (SETUP, {"DATABASE_URL": "mysql://db/hub"}),
    "no_database": (SETUP, {"DATABASE_URL": None}),
    "no_redis": (SETUP, {"REDIS_URL": None}),
    "bad_debug": (SETUP, {"DJANGO_DEBUG": "maybe"}),
}


def _env(overrides: dict[str, str | None]) -> dict[str, str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "hubconsole.settings"}
    for name in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DJANGO_DEBUG"):
        env.pop(name, None)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


@pytest.fixture(scope="module")
def outcomes() -> dict[str, subprocess.CompletedProcess]:
    started = {
        name: subprocess.Popen(
            [sys.executable, *argv],
            cwd=ROOT,
            env=_env(overrides),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (argv, overrides) in CASES.items()
    }
    results = {}
    for name, process in started.items():
        stdout, stderr = process.communicate(timeout=120)
        results[name] = subprocess.CompletedProcess(
            process.args, process.returncode, stdout, stderr
        )
    return results


def _failed_with(result: subprocess.CompletedProcess, message: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_settings_test_environment_starts(outcomes):
    # The control for the failures below: the same command succeeds with a good environment.
    result = outcomes["test_mode"]

    assert result.returncode == 0, result.stderr


def test_settings_production_starts_when_configured_without_debug(outcomes):
    result = outcomes["production"]

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_settings_production_passes_the_deploy_check(outcomes):
    result = outcomes["production_deploy_check"]

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_settings_production_without_secret_key_fails(outcomes):
    _failed_with(outcomes["no_secret"], "DJANGO_SECRET_KEY must be set")


def test_settings_production_with_a_short_secret_key_fails(outcomes):
    _failed_with(outcomes["short_secret"], "DJANGO_SECRET_KEY must be at least 50 characters")


@pytest.mark.parametrize("case", ["no_hosts", "empty_hosts"])
def test_settings_production_without_allowed_hosts_fails(outcomes, case):
    _failed_with(outcomes[case], "DJANGO_ALLOWED_HOSTS must list the host names")


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("lease_abc", "HUBCONSOLE_LEASE_SECONDS must be a whole number, not 'abc'"),
        ("lease_zero", "HUBCONSOLE_LEASE_SECONDS must be at least 1, not 0"),
    ],
)
def test_settings_bad_lease_seconds_fails_clearly(outcomes, case, message):
    _failed_with(outcomes[case], message)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("bad_mode", "HUBCONSOLE_MODE must be development, demo, production or test"),
        ("mysql", "DATABASE_URL must point at PostgreSQL"),
        ("no_database", "DATABASE_URL must be set"),
        ("no_redis", "REDIS_URL must be set"),
        ("bad_debug", "DJANGO_DEBUG must be true or false, not 'maybe'"),
    ],
)
def test_settings_other_bad_values_fail_clearly(outcomes, case, message):
    _failed_with(outcomes[case], message)
