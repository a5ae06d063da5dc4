"""A sandbox SFTP server (asyncssh) standing in for suppliers' and partners' SFTP hosts.

Password authentication for one user, chrooted to a folder, with a persistent host key so
connectors can pin it. Used by the demo and by tests; never by product code.
"""

import asyncio
import hmac
import threading
from dataclasses import dataclass
from pathlib import Path

import asyncssh


class _PasswordServer(asyncssh.SSHServer):
    def __init__(self, username: str, password: str):
        self.username = username
        self.password = password

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return hmac.compare_digest(username, self.username) and hmac.compare_digest(
            password, self.password
        )


def host_key(path: Path) -> asyncssh.SSHKey:
    """Load the server's host key, creating it on first use."""
    if path.exists():
        return asyncssh.read_private_key(str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    key = asyncssh.generate_private_key("ssh-ed25519")
    key.write_private_key(str(path))
    path.chmod(0o600)
    return key


async def listen(
    *,
    root: Path,
    username: str,
    password: str,
    key: asyncssh.SSHKey,
    port: int = 0,
    host: str = "127.0.0.1",
) -> asyncssh.SSHAcceptor:
    root.mkdir(parents=True, exist_ok=True)
    return await asyncssh.listen(
        host,
        port,
        server_host_keys=[key],
        server_factory=lambda: _PasswordServer(username, password),
        sftp_factory=lambda channel: asyncssh.SFTPServer(channel, chroot=str(root).encode()),
        allow_scp=False,
    )


@dataclass
class RunningSftpServer:
    port: int
    public_key: str
    _loop: asyncio.AbstractEventLoop
    _server: asyncssh.SSHAcceptor
    _thread: threading.Thread

    def stop(self) -> None:
        async def close():
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def start_in_thread(
    *, root: Path, username: str, password: str, key_path: Path
) -> RunningSftpServer:
    """Run the server on a free port in a background thread (for tests)."""
    loop = asyncio.new_event_loop()
    key = host_key(key_path)
    thread = threading.Thread(target=loop.run_forever, daemon=True, name="sandbox-sftp")
    thread.start()
    server = asyncio.run_coroutine_threadsafe(
        listen(root=root, username=username, password=password, key=key), loop
    ).result(10)
    port = server.sockets[0].getsockname()[1]
    public = key.export_public_key().decode().strip()
    return RunningSftpServer(port, public, loop, server, thread)
