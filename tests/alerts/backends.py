"""Mail backends for tests: a relay that refuses, and one that takes its time."""

import smtplib
import time

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend


class RefusingBackend(BaseEmailBackend):
    """Raises ``error`` on every send; counts the attempts."""

    error: Exception = smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
    attempts = 0

    def send_messages(self, messages):
        type(self).attempts += 1
        raise type(self).error


class SlowBackend(LocmemBackend):
    """Django's test outbox behind a relay that needs 20 ms per message, as real ones do: long
    enough for two senders to overlap."""

    def send_messages(self, messages):
        time.sleep(0.02)
        return super().send_messages(messages)
