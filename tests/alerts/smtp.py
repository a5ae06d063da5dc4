"""A real SMTP listener for tests: aiosmtpd on a free local port, stoppable and restartable."""

import email
import email.policy
import threading

import pytest

from tests.conftest import free_port

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")


class Inbox:
    """aiosmtpd handler that keeps every accepted message."""

    def __init__(self):
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class Relay:
    """A local SMTP relay that can be stopped and started again on the same port."""

    def __init__(self):
        self.port = free_port()
        self.inbox = Inbox()
        self._controller = None

    def start(self) -> None:
        self._controller = aiosmtpd_controller.Controller(
            self.inbox, hostname="127.0.0.1", port=self.port
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
