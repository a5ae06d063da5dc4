"""File sources for pickup: a local folder and an SFTP server, behind one small interface.

Settings of both: ``path`` (folder to read), ``pattern`` (glob, default ``*``),
``archive_path`` and ``error_path`` (default ``archive/`` and ``error/`` inside ``path``),
``min_age_seconds`` (default 5: a file must be untouched this long before it is read, so
half-written files are left alone). SFTP adds ``host``, ``port``, ``username``,
``password_env`` or ``private_key_env`` (environment variables), and ``host_key`` (the
server's public key, OpenSSH format: the host key is always verified).
"""

import asyncio
import fnmatch
import os
import posixpath
import time
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from apps.connectors.secrets import connector_secret
from apps.core.errors import HubError
from apps.exceptions.catalogue import codes

# Names that editors and uploaders use for files still being written.
_PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".filepart", ".crdownload", ".swp")


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int
    mtime: float


def is_candidate(name: str, pattern: str) -> bool:
    return (
        not name.startswith(".")
        and not name.lower().endswith(_PARTIAL_SUFFIXES)
        and fnmatch.fnmatchcase(name, pattern)
    )


class FileSource:
    """List ready files, read one, and move it to the archive or error folder."""

    def __init__(self, options: dict):
        self.path = options["path"]
        self.pattern = options.get("pattern", "*")
        self.min_age = float(options.get("min_age_seconds", 5))
        self.archive_path = options.get("archive_path") or self._join(self.path, "archive")
        self.error_path = options.get("error_path") or self._join(self.path, "error")

    def _join(self, *parts: str) -> str:
        raise NotImplementedError

    def ready_files(self) -> list[RemoteFile]:
        """Files old enough to be complete, oldest first."""
        cutoff = time.time() - self.min_age
        files = [f for f in self.list_files() if is_candidate(f.name, self.pattern)]
        return sorted((f for f in files if f.mtime <= cutoff), key=lambda f: (f.mtime, f.name))

    def list_files(self) -> list[RemoteFile]:
        raise NotImplementedError

    def read(self, file: RemoteFile) -> bytes:
        raise NotImplementedError

    def move(self, file: RemoteFile, folder: str, new_name: str) -> None:
        raise NotImplementedError

    def write_note(self, folder: str, name: str, text: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections."""


class LocalFolderSource(FileSource):
    def _join(self, *parts: str) -> str:
        return os.path.join(*parts)

    def list_files(self) -> list[RemoteFile]:
        folder = Path(self.path)
        if not folder.is_dir():
            raise HubError(
                codes.TARGET_UNAVAILABLE, f"The pickup folder {self.path} does not exist."
            )
        found = []
        for entry in os.scandir(folder):
            if entry.is_file(follow_symlinks=False):
                stat = entry.stat(follow_symlinks=False)
                found.append(RemoteFile(entry.name, stat.st_size, stat.st_mtime))
        return found

    def read(self, file: RemoteFile) -> bytes:
        return (Path(self.path) / file.name).read_bytes()

    def move(self, file: RemoteFile, folder: str, new_name: str) -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        os.replace(Path(self.path) / file.name, Path(folder) / new_name)

    def write_note(self, folder: str, name: str, text: str) -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / name).write_text(text)


def sftp_connect_kwargs(options: dict) -> dict:
    """asyncssh.connect arguments for an SFTP connector (host key pinned, secret from env)."""
    host_key = options.get("host_key")
    if not host_key:
        raise HubError(codes.AUTH_FAILED, "SFTP connectors need the server's host_key.")
    try:
        trusted = asyncssh.import_public_key(host_key)
    except (asyncssh.KeyImportError, ValueError):
        raise HubError(codes.AUTH_FAILED, "The configured host_key is not a public key.") from None
    kwargs = {
        "host": options["host"],
        "port": int(options.get("port", 22)),
        "username": options["username"],
        "known_hosts": ([trusted], [], []),
        "connect_timeout": float(options.get("timeout_seconds", 15)),
        "client_keys": None,
    }
    if options.get("private_key_env"):
        key_text = connector_secret(options["private_key_env"]) or ""
        try:
            kwargs["client_keys"] = [asyncssh.import_private_key(key_text)]
        except (asyncssh.KeyImportError, ValueError):
            raise HubError(
                codes.AUTH_FAILED,
                f"The environment variable {options['private_key_env']} holds no private key.",
            ) from None
    elif options.get("password_env"):
        kwargs["password"] = connector_secret(options["password_env"]) or ""
    return kwargs


class SftpSource(FileSource):
    """SFTP over asyncssh, driven from synchronous code through a private event loop (the
    loop never runs while Django code runs, so the ORM stays usable in between)."""

    def __init__(self, options: dict):
        super().__init__(options)
        self.options = options
        self.loop = asyncio.new_event_loop()
        self.connection = None
        self.sftp = None

    def _join(self, *parts: str) -> str:
        return posixpath.join(*parts)

    def _run(self, coroutine):
        try:
            return self.loop.run_until_complete(coroutine)
        except asyncssh.SFTPError as error:
            # e.g. the folder does not exist or permission is denied on the server
            raise HubError(codes.TARGET_UNAVAILABLE, f"SFTP server said: {error.reason}") from None

    def _connect_kwargs(self) -> dict:
        return sftp_connect_kwargs(self.options)

    def _open(self):
        if self.sftp is not None:
            return self.sftp

        async def connect():
            connection = await asyncssh.connect(**self._connect_kwargs())
            return connection, await connection.start_sftp_client()

        try:
            self.connection, self.sftp = self._run(connect())
        except asyncssh.PermissionDenied:
            raise HubError(codes.AUTH_FAILED, "The SFTP server refused the credentials.") from None
        except asyncssh.HostKeyNotVerifiable:
            raise HubError(
                codes.AUTH_FAILED, "The SFTP server's host key does not match."
            ) from None
        except (OSError, asyncssh.Error) as error:
            raise HubError(
                codes.TARGET_UNAVAILABLE,
                f"Could not connect to the SFTP server ({error})",
                transient=True,
            ) from None
        return self.sftp

    def list_files(self) -> list[RemoteFile]:
        sftp = self._open()

        async def listing():
            try:
                entries = await sftp.readdir(self.path)
            except asyncssh.SFTPError as error:
                raise HubError(
                    codes.TARGET_UNAVAILABLE,
                    f"The pickup folder {self.path} cannot be read: {error.reason}",
                ) from None
            return [
                RemoteFile(e.filename, e.attrs.size or 0, float(e.attrs.mtime or 0))
                for e in entries
                if e.attrs.type == asyncssh.FILEXFER_TYPE_REGULAR
            ]

        return self._run(listing())

    def read(self, file: RemoteFile) -> bytes:
        sftp = self._open()

        async def read():
            async with sftp.open(self._join(self.path, file.name), "rb") as handle:
                return await handle.read()

        return self._run(read())

    def _ensure_folder(self, folder: str) -> None:
        sftp = self._open()

        async def ensure():
            if not await sftp.isdir(folder):
                await sftp.makedirs(folder, exist_ok=True)

        self._run(ensure())

    def move(self, file: RemoteFile, folder: str, new_name: str) -> None:
        self._ensure_folder(folder)
        self._run(self.sftp.rename(self._join(self.path, file.name), self._join(folder, new_name)))

    def write_note(self, folder: str, name: str, text: str) -> None:
        self._ensure_folder(folder)

        async def write():
            async with self.sftp.open(self._join(folder, name), "w") as handle:
                await handle.write(text)

        self._run(write())

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self._run(self.connection.wait_closed())
        self.loop.close()
