"""The one error hierarchy services raise; each error carries a business exception code."""


class HubError(Exception):
    """A failure with a code from the exception catalogue (apps.exceptions.catalogue).

    ``transient`` errors are retried with backoff; the others become a business exception at
    once. ``retry_after`` is the earliest sensible retry, in seconds, when the other side said so.
    ``root_cause_key`` names what is missing or wrong, for grouping.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        transient: bool = False,
        retry_after: float | None = None,
        details: dict | None = None,
        root_cause_key: str = "",
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.transient = transient
        self.retry_after = retry_after
        self.details = details or {}
        # What is missing or wrong (e.g. "supplier:ERP:ACME-77"): exceptions with the same
        # code and key group into one root cause with one fix.
        self.root_cause_key = root_cause_key

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class InputRejected(HubError):
    """Bad input at the door (an HTTP 4xx): nothing was stored."""

    def __init__(self, code: str, message: str, *, status: int = 400):
        super().__init__(code, message)
        self.status = status


class PermissionDenied(HubError):
    """The actor may not perform this action."""

    def __init__(self, message: str = "You do not have permission to do this."):
        super().__init__("PERMISSION_DENIED", message)
