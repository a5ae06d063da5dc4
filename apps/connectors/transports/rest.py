"""Outbound REST (JSON over HTTP): one POST per posting, with its idempotency key.

Connector settings: ``url`` (required), ``token_env`` (name of the environment variable that
holds a bearer token), ``headers`` (extra non-secret headers).
"""

import email.utils
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from apps.connectors.secrets import connector_secret
from apps.connectors.transports.base import (
    DeliveryResult,
    OutboundRequest,
    Transport,
    TransportError,
)
from apps.core.errors import HubError
from apps.exceptions.catalogue import codes

# Status codes that say "try again later" rather than "this message is wrong".
_TRANSIENT = {408, 425, 429, 500, 502, 503, 504}
# One pooled client per connector and process, replaced (and closed) when its config changes.
_clients: dict[int, tuple[float, httpx.Client]] = {}


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(value), 86400.0)  # a day at most: "forever" is not a retry hint
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - datetime.now(UTC)).total_seconds()), 86400.0)


def validate_settings(settings: dict) -> list[str]:
    problems = []
    url = settings.get("url", "")
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        problems.append("url must be an http(s) URL")
    headers = settings.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        problems.append("headers must map names to text values")
    return problems


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return str(error.get("message") or error.get("detail") or error)[:300]
        return str(error)[:300]
    return str(body)[:300]


class RestTransport(Transport):
    def __init__(self, *, client: httpx.Client, url: str, headers: dict[str, str]):
        self.client = client
        self.url = url
        self.headers = headers

    @classmethod
    def for_connector(cls, connector) -> "RestTransport":
        options = connector.settings
        problems = validate_settings(options)
        if problems:
            raise TransportError(codes.DELIVERY_REJECTED, "; ".join(problems))
        headers = dict(options.get("headers", {}))
        token_env = options.get("token_env")
        if token_env:
            try:
                token = connector_secret(token_env)
            except HubError as error:
                raise TransportError(codes.AUTH_FAILED, error.message) from None
            if not token:
                raise TransportError(
                    codes.AUTH_FAILED, f"The environment variable {token_env} holds no token."
                )
            headers["Authorization"] = f"Bearer {token}"
        version = connector.updated_at.timestamp()
        cached = _clients.get(connector.pk)
        if cached is not None and cached[0] == version:
            client = cached[1]
        else:
            if cached is not None:
                cached[1].close()
            client = httpx.Client(
                timeout=httpx.Timeout(connector.timeout_seconds),
                limits=httpx.Limits(
                    max_connections=connector.concurrency,
                    max_keepalive_connections=connector.concurrency,
                ),
                headers={"User-Agent": "HubConsole/0.1"},
            )
            _clients[connector.pk] = (version, client)
        return cls(client=client, url=options["url"], headers=headers)

    def send(self, request: OutboundRequest, *, timeout: float | None = None) -> DeliveryResult:
        headers = {
            **self.headers,
            "Content-Type": request.content_type,
            "Idempotency-Key": request.idempotency_key,
            "X-Correlation-ID": request.correlation_id,
            "X-Document-Type": request.document_type,
        }
        started = time.perf_counter()
        try:
            response = self.client.post(
                self.url,
                content=request.body,
                headers=headers,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.TimeoutException:
            raise TransportError(
                codes.TARGET_UNAVAILABLE, "The target did not answer in time.", transient=True
            ) from None
        except httpx.TransportError as error:
            raise TransportError(
                codes.TARGET_UNAVAILABLE,
                f"Could not reach the target ({type(error).__name__}).",
                transient=True,
            ) from None
        duration_ms = (time.perf_counter() - started) * 1000
        status = response.status_code
        details = {"http_status": status}
        if 200 <= status < 300:
            reference = ""
            try:
                body = response.json()
                if isinstance(body, dict):
                    reference = str(body.get("id") or body.get("reference") or "")[:120]
            except ValueError:
                pass
            replayed = response.headers.get("Idempotent-Replayed", "").lower() == "true"
            return DeliveryResult(status, reference, duration_ms, replayed)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        # The target's own words may quote patient data: they go to the details (shown only to
        # people who may see payloads), never into the message that every viewer reads.
        details["target_message"] = _error_text(response)
        if status == 429:
            raise TransportError(
                codes.THROTTLED,
                "The target asked HubConsole to slow down (HTTP 429).",
                transient=True,
                retry_after=retry_after,
                details=details,
            )
        if status in _TRANSIENT or status >= 500:
            raise TransportError(
                codes.TARGET_UNAVAILABLE,
                f"The target answered HTTP {status}.",
                transient=True,
                retry_after=retry_after,
                details=details,
            )
        if status in {401, 403}:
            raise TransportError(
                codes.AUTH_FAILED,
                f"The target refused the credentials (HTTP {status}).",
                details=details,
            )
        raise TransportError(
            codes.DELIVERY_REJECTED,
            f"The target rejected the message (HTTP {status}).",
            details=details,
        )
