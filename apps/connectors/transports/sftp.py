"""Outbound SFTP: one file per posting in the partner's folder (850s, 997/999 and TA1 acks).

Connector settings: ``host``, ``port``, ``username``, ``password_env`` or ``private_key_env``,
``host_key`` (the server's public key, pinned), ``path`` (the folder to write to).

A posting's file name is derived from its idempotency key, so a replay writes the same name:
a file already there with the same size counts as delivered and is not written again. Files
are uploaded under a dot-name and renamed when complete, so the partner never picks up half.
"""

import asyncio
import hashlib
import posixpath
import re
import time

import asyncssh

from apps.connectors.sources import sftp_connect_kwargs
from apps.connectors.transports.base import (
    DeliveryResult,
    OutboundRequest,
    Transport,
    TransportError,
)
from apps.core.errors import HubError
from apps.exceptions.catalogue import codes

EXTENSIONS = {"x12": "x12", "json": "json", "csv": "csv", "hl7v2": "hl7"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def validate_settings(settings: dict) -> list[str]:
    problems = [
        f"{name} is required"
        for name in ("host", "username", "path", "host_key")
        if not settings.get(name)
    ]
    if not settings.get("password_env") and not settings.get("private_key_env"):
        problems.append("password_env or private_key_env is required")
    return problems


def file_name(request: OutboundRequest) -> str:
    """``<type>-<document>-<key hash>.<ext>``: stable per idempotency key, safe on any server."""
    kind = request.document_type.rsplit(".", 1)[-1]
    document = _UNSAFE.sub("_", request.document_id or "document")[:60]
    digest = hashlib.sha256(request.idempotency_key.encode()).hexdigest()[:12]
    return f"{kind}-{document}-{digest}.{EXTENSIONS.get(request.format, 'dat')}"


class SftpTransport(Transport):
    def __init__(self, *, options: dict, folder: str):
        self.options = options
        self.folder = folder

    @classmethod
    def for_connector(cls, connector) -> "SftpTransport":
        problems = validate_settings(connector.settings)
        if problems:
            raise TransportError(codes.DELIVERY_REJECTED, "; ".join(problems))
        return cls(options=connector.settings, folder=connector.settings["path"])

    async def _upload(self, name: str, body: bytes) -> bool:
        """Write the file unless it is there already; returns whether it was there."""
        connect = asyncssh.connect(**sftp_connect_kwargs(self.options))
        async with connect as connection, connection.start_sftp_client() as sftp:
            final = posixpath.join(self.folder, name)
            try:
                if (await sftp.stat(final)).size == len(body):
                    return True
            except asyncssh.SFTPNoSuchFile:
                pass
            partial = posixpath.join(self.folder, f".{name}.part")
            async with sftp.open(partial, "wb") as handle:
                await handle.write(body)
            try:
                await sftp.posix_rename(partial, final)
            except asyncssh.SFTPOpUnsupported:
                await sftp.rename(partial, final)
            return False

    def send(self, request: OutboundRequest, *, timeout: float | None = None) -> DeliveryResult:
        name = file_name(request)
        started = time.perf_counter()
        limit = timeout or float(self.options.get("timeout_seconds", 30))
        try:
            # Sender threads have no event loop of their own; each send runs one briefly.
            existed = asyncio.run(asyncio.wait_for(self._upload(name, request.body), limit))
        except HubError as error:
            raise TransportError(error.code, error.message, transient=error.transient) from None
        except asyncssh.PermissionDenied:
            raise TransportError(
                codes.AUTH_FAILED, "The SFTP server refused the credentials."
            ) from None
        except asyncssh.HostKeyNotVerifiable:
            raise TransportError(
                codes.AUTH_FAILED, "The SFTP server's host key does not match."
            ) from None
        except asyncssh.SFTPError as error:
            # No such folder, no permission to write: a person must fix the setup.
            raise TransportError(
                codes.DELIVERY_REJECTED, f"SFTP server said: {error.reason}"
            ) from None
        except (TimeoutError, OSError, asyncssh.Error) as error:
            raise TransportError(
                codes.TARGET_UNAVAILABLE,
                f"Could not write to the SFTP server ({type(error).__name__}).",
                transient=True,
            ) from None
        duration_ms = (time.perf_counter() - started) * 1000
        return DeliveryResult(status=201, reference=name, duration_ms=duration_ms, replayed=existed)
