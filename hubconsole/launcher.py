"""The README's two commands: start the whole system with demo traffic, or run the tests.

    python -m hubconsole.launcher start     # web, workers, beat, sandbox systems, demo traffic
    python -m hubconsole.launcher test ...  # the full test suite (arguments go to pytest)

When DATABASE_URL / REDIS_URL are not set, an embedded PostgreSQL and Redis are started with
their data under var/ (reused by the next run). Ctrl-C stops everything this started.
"""

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from hubconsole.embedded import EmbeddedPostgres, EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("HUBCONSOLE_DATA_DIR", ROOT / "var"))
PYTHON = sys.executable
BIN = Path(PYTHON).parent


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


class Services:
    """The database and broker: those configured in the environment, or embedded ones."""

    def __init__(self, folder: Path, database: str):
        self.postgres = EmbeddedPostgres(folder / "postgres", database=database)
        self.redis = EmbeddedRedis(folder / "redis")
        self.started: list = []

    def ensure(self, env: dict) -> dict:
        if not env.get("DATABASE_URL"):
            say(f"starting embedded PostgreSQL (data in {self.postgres.data_dir})")
            env["DATABASE_URL"] = self.postgres.start()
            self.started.append(self.postgres)
        if not env.get("REDIS_URL"):
            say("starting embedded Redis")
            env["REDIS_URL"] = self.redis.start()
            self.started.append(self.redis)
        return env

    def stop(self) -> None:
        for service in reversed(self.started):
            service.stop()
        self.started.clear()


def _manage(env: dict, *args: str) -> None:
    subprocess.run([PYTHON, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, check=True)


def _demo_secrets(env: dict) -> dict:
    """Secrets of the demo connectors, made once and kept in var/ (mode 0600)."""
    path = VAR / "demo" / "secrets.env"
    path.parent.mkdir(parents=True, exist_ok=True)
    wanted = {
        "HUBCONSOLE_SECRET_DEMO_WEBHOOK": lambda: secrets.token_urlsafe(32),
        "HUBCONSOLE_SECRET_DEMO_SFTP_PASSWORD": lambda: secrets.token_urlsafe(16),
    }
    stored = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, _, value = line.partition("=")
            stored[name] = value
    if not wanted.keys() <= stored.keys():
        stored = {name: stored.get(name) or make() for name, make in wanted.items()}
        path.write_text("".join(f"{name}={value}\n" for name, value in stored.items()))
        path.chmod(0o600)
    for name in wanted:
        env.setdefault(name, stored[name])
    return env


class Supervisor:
    """Runs child processes, each logging to var/log/<name>.log; stops them all together."""

    def __init__(self, env: dict):
        self.env = env
        self.children: dict[str, subprocess.Popen] = {}
        (VAR / "log").mkdir(parents=True, exist_ok=True)

    def spawn(self, name: str, argv: list[str], **extra_env: str) -> None:
        log = open(VAR / "log" / f"{name}.log", "ab")  # noqa: SIM115 (kept open for the child)
        self.children[name] = subprocess.Popen(
            argv,
            env={**self.env, **extra_env},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def failed(self) -> str | None:
        for name, child in self.children.items():
            if child.poll() is not None:
                return name
        return None

    def stop(self) -> None:
        # SIGTERM to each leader only: gunicorn and celery then stop their own children
        # gracefully (a group-wide SIGTERM would kill celery's pool mid-task).
        for child in self.children.values():
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 15
        for child in self.children.values():
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.wait(remaining)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_http(url: str, seconds: float = 30) -> bool:
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (local URL)
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


def start(args: argparse.Namespace) -> int:
    try:
        port = int(os.environ.get("HUBCONSOLE_PORT", "8000"))
        sandbox_port = int(os.environ.get("HUBCONSOLE_SANDBOX_PORT", "8100"))
        sftp_port = int(os.environ.get("HUBCONSOLE_SANDBOX_SFTP_PORT", "8122"))
    except ValueError:
        say("HUBCONSOLE_PORT, HUBCONSOLE_SANDBOX_PORT and HUBCONSOLE_SANDBOX_SFTP_PORT are numbers")
        return 2
    env = dict(os.environ)
    env.setdefault("HUBCONSOLE_MODE", "demo")
    env.setdefault("HUBCONSOLE_SANDBOX_ENABLED", "true")
    env.setdefault("HUBCONSOLE_BASE_URL", f"http://127.0.0.1:{port}")
    env.setdefault("HUBCONSOLE_SANDBOX_URL", f"http://127.0.0.1:{sandbox_port}")
    env.setdefault("HUBCONSOLE_SANDBOX_SFTP_PORT", str(sftp_port))
    env.setdefault("HUBCONSOLE_PICKUP_SECONDS", "5")
    # No mail server on a fresh machine: alert e-mails are written to the ops worker's log
    # (var/log/worker-ops.log) unless EMAIL_BACKEND/EMAIL_HOST say otherwise.
    if "EMAIL_HOST" not in env:
        env.setdefault("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
    _demo_secrets(env)

    for name, number in (
        ("HUBCONSOLE_PORT", port),
        ("HUBCONSOLE_SANDBOX_PORT", sandbox_port),
        ("HUBCONSOLE_SANDBOX_SFTP_PORT", sftp_port),
    ):
        if not _port_free(number):
            say(f"port {number} is in use; stop what uses it or set {name} to another port")
            return 1
    services = Services(VAR / "services", database="hubconsole")
    supervisor = Supervisor(env)

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    try:
        services.ensure(env)
        say("applying database migrations")
        _manage(env, "migrate", "--noinput", "-v", "0")
        say("preparing demo users, connectors and sandbox folders")
        _manage(env, "demo_setup")

        gunicorn, celery = str(BIN / "gunicorn"), str(BIN / "celery")
        supervisor.spawn(
            "sandbox",
            [
                gunicorn,
                "hubconsole.sandbox_wsgi:application",
                "-b",
                f"127.0.0.1:{sandbox_port}",
                "-w",
                "2",
                "--threads",
                "4",
                "--access-logfile",
                "-",
            ],
        )
        supervisor.spawn(
            "sandbox-sftp", [PYTHON, "manage.py", "sandbox_sftp", "--port", str(sftp_port)]
        )
        supervisor.spawn(
            "web",
            [
                gunicorn,
                "hubconsole.wsgi:application",
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                "3",
                "--access-logfile",
                "-",
            ],
        )
        supervisor.spawn(
            "worker-pipeline",
            [
                celery,
                "-A",
                "hubconsole",
                "worker",
                "-Q",
                "processing,delivery",
                "-c",
                "2",
                "-n",
                "pipeline@%h",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "INFO",
            ],
        )
        supervisor.spawn(
            "worker-ops",
            [
                celery,
                "-A",
                "hubconsole",
                "worker",
                "-Q",
                "connectors,maintenance,alerts",
                "-c",
                "1",
                "-n",
                "ops@%h",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "INFO",
            ],
        )
        supervisor.spawn(
            "beat",
            [
                celery,
                "-A",
                "hubconsole",
                "beat",
                "-s",
                str(VAR / "celerybeat-schedule"),
                "-l",
                "INFO",
            ],
        )
        if not _wait_http(f"http://127.0.0.1:{port}/healthz"):
            say(f"the web server did not come up; see {VAR / 'log' / 'web.log'}")
            return 1
        supervisor.spawn("traffic", [PYTHON, "manage.py", "sandbox_traffic"])
        supervisor.spawn("supplier", [PYTHON, "manage.py", "sandbox_supplier"])

        print(
            f"\nHubConsole is running at http://127.0.0.1:{port}/\n"
            f"Sandbox systems at http://127.0.0.1:{sandbox_port}/ (SFTP on port {sftp_port})\n"
            f"Logs in {VAR / 'log'}/. Press Ctrl-C to stop.\n\n"
            "Demo logins (user / password / role):",
            flush=True,
        )
        _manage(env, "demo_users", "--list")
        print(flush=True)
        while True:
            name = supervisor.failed()
            if name:
                say(f"{name} stopped unexpectedly; see {VAR / 'log' / (name + '.log')}")
                return 1
            time.sleep(1)
    except KeyboardInterrupt:
        say("stopping")
        return 0
    except subprocess.CalledProcessError as error:
        say(f"set-up step failed: {' '.join(map(str, error.cmd[1:]))}")
        return 1
    finally:
        supervisor.stop()
        services.stop()


def test(pytest_args: list[str]) -> int:
    env = dict(os.environ)
    env["HUBCONSOLE_MODE"] = "test"
    services = Services(VAR / "test-services", database="hubconsole")
    try:
        services.ensure(env)
        command = [PYTHON, "-m", "pytest", *pytest_args]
        say(" ".join(command[2:]))
        return subprocess.run(command, env=env, cwd=ROOT).returncode
    except KeyboardInterrupt:
        return 130
    finally:
        services.stop()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["test"]:
        return test(argv[1:])  # everything after "test" belongs to pytest, flags included
    parser = argparse.ArgumentParser(prog="hubconsole")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("start", help="start the whole system with demo data flowing")
    commands.add_parser("test", help="run the test suite (arguments go to pytest)")
    args = parser.parse_args(argv)
    return start(args)


if __name__ == "__main__":
    sys.exit(main())
