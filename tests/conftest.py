"""Shared fixtures: personas, builders, and real processes (sandbox, Celery worker, beat).

Tests run against the PostgreSQL and Redis named by DATABASE_URL and REDIS_URL. The Redis
database given to the tests is theirs: it is flushed before each test.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import connection

from apps.accounts import roles
from apps.connectors.choices import ConnectorKindChoices
from apps.connectors.models import Connector
from apps.connectors.selectors import connector_cache_clear
from apps.core.redis import redis_client

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WEBHOOK_SECRET = "test-webhook-secret-7f3a"
WEBHOOK_SECRET_ENV = "HUBCONSOLE_SECRET_TEST_WEBHOOK_SECRET"


@pytest.fixture(autouse=True)
def _isolated_redis_and_caches():
    """Each test starts with an empty Redis database and empty in-process caches."""
    assert settings.MODE == "test", "tests flush Redis; run them with HUBCONSOLE_MODE=test"
    redis_client().flushdb()
    connector_cache_clear()
    os.environ[WEBHOOK_SECRET_ENV] = WEBHOOK_SECRET
    return


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(predicate, *, timeout: float, interval: float = 0.2, message: str = ""):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message or predicate}")
        time.sleep(interval)


# --- Personas -----------------------------------------------------------------------------------


def _persona(username: str, role: roles.Role | None) -> User:
    user = User.objects.create_user(username, f"{username}@example.org", "pw-" + username)
    if role is not None:
        user.groups.add(Group.objects.get(name=role.name))
        user.is_staff = role.staff
        user.save(update_fields=["is_staff"])
    return user


@pytest.fixture
def viewer(db):
    return _persona("grace", roles.VIEWER)


@pytest.fixture
def ap_analyst(db):
    return _persona("alice", roles.AP_ANALYST)


@pytest.fixture
def steward(db):
    return _persona("erin", roles.DATA_STEWARD)


@pytest.fixture
def engineer(db):
    return _persona("dave", roles.INTEGRATION_ENGINEER)


@pytest.fixture
def auditor(db):
    return _persona("frank", roles.AUDITOR)


@pytest.fixture
def outsider(db):
    """Signed in, but holds no role."""
    return _persona("mallory", None)


# --- Builders -----------------------------------------------------------------------------------


def make_rest_target(url: str, slug: str = "erp", **fields) -> Connector:
    defaults = {
        "max_attempts": 5,
        "backoff_base_seconds": 0.2,
        "backoff_cap_seconds": 1.0,
        "timeout_seconds": 5.0,
        "breaker_threshold": 1000,
    }
    return Connector.objects.create(
        slug=slug,
        name=f"Target {slug}",
        kind=ConnectorKindChoices.REST_OUT,
        settings={"url": url},
        **{**defaults, **fields},
    )


def make_webhook(target: Connector | None = None, slug: str = "procurement", **fields) -> Connector:
    settings_ = {"secret_env": WEBHOOK_SECRET_ENV, "key_fields": {"po_number": "po_number"}}
    settings_.update(fields.pop("settings", {}))
    return Connector.objects.create(
        slug=slug,
        name=f"Webhook {slug}",
        kind=ConnectorKindChoices.WEBHOOK_IN,
        settings=settings_,
        forward_to=target,
        **fields,
    )


# --- Real processes -----------------------------------------------------------------------------


def database_url_of_tests() -> str:
    """DATABASE_URL of the test database (it exists only once pytest-django created it)."""
    s = connection.settings_dict
    host = s["HOST"] or "localhost"
    if host.startswith("/"):
        host = quote(host, safe="")
    auth = quote(s["USER"] or "", safe="")
    if s["PASSWORD"]:
        auth += ":" + quote(s["PASSWORD"], safe="")
    port = f":{s['PORT']}" if s["PORT"] else ""
    return f"postgres://{auth}@{host}{port}/{s['NAME']}"


@pytest.fixture(scope="session")
def process_env(django_db_setup, django_db_blocker):
    """Environment for processes that must work on the test database and Redis."""
    with django_db_blocker.unblock():
        url = database_url_of_tests()
    return {
        **os.environ,
        "DATABASE_URL": url,
        "HUBCONSOLE_MODE": "test",
        "HUBCONSOLE_SANDBOX_ENABLED": "true",
        "HUBCONSOLE_LEASE_SECONDS": "4",
        "HUBCONSOLE_SWEEP_SECONDS": "1",
        "HUBCONSOLE_DRAIN_SECONDS": "5",
        "HUBCONSOLE_CLAIM_BATCH": "100",
        WEBHOOK_SECRET_ENV: WEBHOOK_SECRET,
        "PYTHONUNBUFFERED": "1",
    }


class Process:
    """A child process in its own process group, logging to a file under tmp."""

    def __init__(self, name: str, argv: list[str], env: dict, log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop)
        self.popen = subprocess.Popen(
            argv,
            env=env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill9(self) -> None:
        """SIGKILL the whole group: the main process and every pool child, no clean-up."""
        if self.alive():
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)

    def stop(self) -> None:
        if self.alive():
            self.popen.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="session")
def sandbox_url(process_env, tmp_path_factory):
    """The sandbox systems served by their own gunicorn process, on the test database."""
    port = free_port()
    process = Process(
        "sandbox",
        [
            str(BIN / "gunicorn"),
            "hubconsole.sandbox_wsgi:application",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "2",
            # Enough threads that a test's parallel postings never queue inside the sandbox.
            "--threads",
            "16",
            "--timeout",
            "120",
        ],
        process_env,
        tmp_path_factory.mktemp("sandbox"),
    )
    url = f"http://127.0.0.1:{port}"

    def up():
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return process.popen.poll() is not None  # stop waiting; asserted below

    wait_until(up, timeout=30, message="the sandbox to start")
    assert process.alive(), process.log()
    yield url
    process.stop()


@pytest.fixture
def start_worker(transactional_db, process_env, tmp_path):
    """Start real Celery workers (prefork) on the test database; all stopped at teardown."""
    started: list[Process] = []

    def start(
        *,
        queues: str = "processing,delivery,maintenance,connectors",
        concurrency: int = 2,
        **env: str,
    ) -> Process:
        name = f"worker{len(started)}"
        process = Process(
            name,
            [
                str(BIN / "celery"),
                "-A",
                "hubconsole",
                "worker",
                "-Q",
                queues,
                "-c",
                str(concurrency),
                "-n",
                f"{name}-{os.getpid()}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "INFO",
            ],
            {**process_env, **env},
            tmp_path,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def start_beat(transactional_db, process_env, tmp_path):
    started: list[Process] = []

    def start(**env: str) -> Process:
        process = Process(
            "beat",
            [
                str(BIN / "celery"),
                "-A",
                "hubconsole",
                "beat",
                "-s",
                str(tmp_path / "beat-schedule"),
                "-l",
                "INFO",
            ],
            {**process_env, **env},
            tmp_path,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def sandbox(sandbox_url, transactional_db):
    """Client of the sandbox's control API; clears injected faults around each test."""
    client = httpx.Client(base_url=sandbox_url, timeout=10)
    client.delete("/faults")
    yield client
    client.delete("/faults")
    client.close()


# A real SFTP server (the sandbox's asyncssh server on a free port) for pickup and delivery.
USERNAME = "partner"
PASSWORD = "sftp-pass-42"
PASSWORD_ENV = "HUBCONSOLE_SECRET_TEST_SFTP_PASSWORD"


@pytest.fixture
def sftp_server(tmp_path):
    from apps.sandbox.sftp import start_in_thread

    root = tmp_path / "sftp"
    (root / "outbox").mkdir(parents=True)
    server = start_in_thread(
        root=root, username=USERNAME, password=PASSWORD, key_path=tmp_path / "hostkey"
    )
    server.root = root
    yield server
    server.stop()
