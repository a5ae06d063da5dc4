"""What every benchmark script shares: messages, its own database, and waiting for the
processes it starts."""

import contextlib
import math
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

HOST = "127.0.0.1"  # the only address benchmarks send traffic to


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


class BenchError(Exception):
    pass


def admin_url(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def recreate_database(url: str) -> None:
    name = database_name(url)
    if "bench" not in name:
        raise BenchError(f"refusing to drop database {name!r}: its name must contain 'bench'")
    with psycopg.connect(admin_url(url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(url: str) -> None:
    name = database_name(url)
    if "bench" not in name:  # only what recreate_database made
        return
    with psycopg.connect(admin_url(url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def wait_http(url: str, child, seconds: float = 60) -> None:
    """Until ``url`` answers 200; ``child`` is the process that serves it (``alive()``,
    ``name``, ``log_tail()``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not child.alive():
            raise BenchError(f"{child.name} exited while starting:\n{child.log_tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise BenchError(f"{child.name} did not answer {url} within {seconds}s:\n{child.log_tail()}")


def wait_log(child, pattern: str, seconds: float = 60) -> None:
    """Until ``child``'s log (``log_path``) shows ``pattern``."""
    deadline = time.monotonic() + seconds
    regex = re.compile(pattern)
    while time.monotonic() < deadline:
        if not child.alive():
            raise BenchError(f"{child.name} exited while starting:\n{child.log_tail()}")
        if regex.search(child.log_path.read_text(errors="replace")):
            return
        time.sleep(0.2)
    raise BenchError(f"{child.name} not ready within {seconds}s:\n{child.log_tail()}")


def fmt_ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.1f} ms"


def fmt_s(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds:.2f} s"


DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
_DOCS_INTRO = (
    "# Benchmarks\n\n"
    "Measured figures of HubConsole on its development machine. Each section is written by "
    "the script named in it; rerunning the script replaces only its own section.\n"
)


def write_docs_section(heading: str, section: str, *, docs: Path = DOCS) -> None:
    """Replace the section under ``heading`` (a ``## `` line) of docs/benchmarks.md and keep
    every other one; the file is read just before writing, as other scripts write it too."""
    text = docs.read_text() if docs.exists() else _DOCS_INTRO
    start = text.find(heading + "\n")
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    else:
        following = re.search(r"^## ", text[start + len(heading) :], flags=re.MULTILINE)
        end = start + len(heading) + following.start() if following else len(text)
        rest = "\n" + text[end:] if following else ""
        text = text[:start] + section.rstrip("\n") + "\n" + rest
    docs.parent.mkdir(parents=True, exist_ok=True)
    docs.write_text(text)


def require_local(env: dict, names=("DATABASE_URL", "REDIS_URL")) -> None:
    """Refuse to run against anything but this machine: benchmarks drop databases and flush
    Redis databases."""
    for name in names:
        host = urlsplit(env[name]).hostname or ""
        if host not in {"127.0.0.1", "localhost", "::1"} and not host.startswith("/"):
            raise SystemExit(f"{name} must point at this machine, not {host!r}")


def use_environment(env: dict) -> None:
    """Check ``env`` names only this machine, then set it for Django (which reads its
    settings from the environment when it starts)."""
    require_local(env)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hubconsole.settings")


TICK = os.sysconf("SC_CLK_TCK")


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine since boot (the machine is shared: what others
    take is this minus what the benchmark's own processes took)."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:8]]
    return (sum(values) - values[3] - values[4]) / TICK


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of one process on this machine."""
    raw = Path(f"/proc/{pid}/stat").read_bytes()
    fields = raw[raw.rfind(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICK


# --- Child processes ----------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


class Child:
    """A process started by a benchmark, in its own session (process group), logging to a
    file. ``stop`` sends SIGTERM to the leader (gunicorn and celery stop their own children
    gracefully), then SIGKILL to the whole group if anything is left."""

    def __init__(self, name: str, argv: list[str], env: dict, log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop)
        self.popen = subprocess.Popen(
            argv,
            env=env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pgid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, grace: float = 15.0) -> None:
        if self.alive():
            self.popen.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(grace)
        # Whatever is left of the group (pool children of a leader that died) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)
        self._log.close()


class Children:
    """The processes a benchmark started, by name; stopped newest first."""

    def __init__(self, env: dict, log_dir: Path):
        self.env = env
        self.log_dir = log_dir
        self.running: dict[str, Child] = {}

    def start(self, name: str, argv: list[str], **env: str) -> Child:
        child = Child(name, argv, {**self.env, **env}, self.log_dir)
        self.running[name] = child
        return child

    def stop(self, name: str) -> None:
        child = self.running.pop(name, None)
        if child is not None:
            child.stop()

    def stop_all(self) -> None:
        for name in reversed(list(self.running)):
            self.stop(name)

    def check(self) -> None:
        for child in self.running.values():
            if not child.alive():
                raise BenchError(f"{child.name} stopped unexpectedly:\n{child.log_tail()}")


def close_and_drop(database_url: str, *, keep: bool) -> None:
    """At the end of a run: close Django's connections, then drop the benchmark's database
    unless it is kept for the next run."""
    with contextlib.suppress(Exception):
        from django.db import connections

        connections.close_all()
    if not keep:
        with contextlib.suppress(psycopg.Error):
            drop_database(database_url)
