"""HMAC-SHA256 webhook signatures with a timestamp, checked in constant time.

Header: ``X-HubConsole-Signature: t=<unix seconds>,v1=<hex>`` where the hex is
HMAC-SHA256(secret, "<t>." + body). Several v1 values may be given while secrets rotate.
"""

import hashlib
import hmac
import re
import time

SIGNATURE_HEADER = "X-HubConsole-Signature"
# ASCII only: str.isdigit() accepts characters such as "²" that int() then refuses.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_DIGEST = re.compile(r"[0-9a-f]{64}")


class SignatureError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value a sender puts on ``body`` (used by senders, the sandbox and tests)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(
    header: str | None, body: bytes, secrets: list[str], *, tolerance: int, now: float | None = None
) -> None:
    """Raise SignatureError unless ``header`` signs ``body`` with one of ``secrets`` recently."""
    if not header:
        raise SignatureError("signature_missing", f"The {SIGNATURE_HEADER} header is missing.")
    timestamp, candidates = None, []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and _TIMESTAMP.fullmatch(value):
            timestamp = int(value)
        elif name == "v1" and _DIGEST.fullmatch(value):
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError(
            "signature_malformed", "The signature header must look like t=<unix>,v1=<hex>."
        )
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise SignatureError(
            "signature_expired",
            f"The signature timestamp is more than {tolerance} seconds from now.",
        )
    signed = f"{timestamp}.".encode() + body
    for secret in secrets:
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, candidate) for candidate in candidates):
            return
    raise SignatureError("signature_invalid", "The signature does not match the body.")
