"""What every endpoint of the status API (/api/v1) shares: one error format, permission by
Django permission and token scope, per-token throttling and cursor pagination.

DRF imports the classes its settings name while ``rest_framework.views`` is itself being
imported, so this module must not import that (nor drf_spectacular.openapi): the schema's part
lives in apps/core/api_schema.py.
"""

import logging

from django.core.exceptions import ImproperlyConfigured, ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connections
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, pagination, serializers, throttling
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.settings import api_settings

from apps.core.context import current_request_id
from apps.core.errors import HubError, InputRejected, PermissionDenied

logger = logging.getLogger(__name__)

READ_SCOPE = "read"
REPLAY_SCOPE = "replay"

# --- One error format -----------------------------------------------------------------------------


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {
        "error": {
            "code": code,
            "message": message,
            "details": details or {},
            "request_id": current_request_id(),
        }
    }


def set_rollback() -> None:
    """As rest_framework.views.set_rollback (not importable here, see above)."""
    for db in connections.all(initialized_only=True):
        if db.settings_dict["ATOMIC_REQUESTS"] and db.in_atomic_block:
            db.set_rollback(True)


def _hub_error_status(error: HubError) -> int:
    if isinstance(error, PermissionDenied):
        return 403
    if isinstance(error, InputRejected):
        return error.status
    # A coded business refusal (not replayable now, already closed...): the state conflicts.
    return 409


def _api_error_code(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else exc.default_code
    return str(code).upper()


def api_exception_handler(exc, context) -> Response:
    """DRF exception handler: every error, whatever raised it, as
    ``{"error": {"code", "message", "details", "request_id"}}``."""
    if isinstance(exc, HubError):
        set_rollback()
        return Response(
            error_body(exc.code, exc.message, exc.details), status=_hub_error_status(exc)
        )
    if isinstance(exc, ObjectDoesNotExist | Http404):
        exc = exceptions.NotFound("No such object." if isinstance(exc, Http404) else str(exc))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        # Unexpected: logged with its traceback, answered in the same format, never leaked.
        logger.error("unhandled error in %s", context.get("view"), exc_info=exc)
        set_rollback()
        return Response(
            error_body("SERVER_ERROR", "Something went wrong on our side; it has been logged."),
            status=500,
        )
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        names = ", ".join(sorted(fields))
        body = error_body(
            "VALIDATION_ERROR", f"Invalid input: {names}.", {"fields": _plain(fields)}
        )
    elif isinstance(exc, exceptions.Throttled):
        wait = max(1, int(exc.wait or 1))
        headers["Retry-After"] = str(wait)
        body = error_body(
            "THROTTLED",
            f"Too many requests; retry in {wait} seconds.",
            {"retry_after": wait},
        )
    else:
        body = error_body(_api_error_code(exc), str(exc.detail))
    set_rollback()
    return Response(body, status=exc.status_code, headers=headers)


def _plain(detail):
    """ErrorDetail trees as plain lists and dicts of strings."""
    if isinstance(detail, dict):
        return {str(key): _plain(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_plain(item) for item in detail]
    return str(detail)


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, upper-case code, e.g. TOKEN_EXPIRED.")
    message = serializers.CharField(help_text="For people; may change.")
    details = serializers.DictField(help_text="Structured context, e.g. invalid fields.")
    request_id = serializers.CharField(help_text="Also in the X-Request-ID header.")


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


@csrf_exempt  # it changes nothing; a POST to an unknown URL is a 404, not a CSRF page
def api_not_found(request, *args, **kwargs) -> JsonResponse:
    """Unknown URLs under /api/v1 answer in the API's error format, not an HTML page."""
    return JsonResponse(
        error_body("NOT_FOUND", "No such API endpoint (paths end with a slash)."), status=404
    )


# --- Permission and scope -------------------------------------------------------------------------


class ApiPermission(BasePermission):
    """Signed in; holding every Django permission the view names (``permission_required``) for
    this action; and, when the request carries an API token, the token's scope for the action
    (``required_scope``, ``read`` unless the view says otherwise).

    A view that names no permission is refused to everyone: forgetting it must not open data.
    """

    message = "You do not have permission to do this."
    code = "PERMISSION_DENIED"

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False  # DRF answers 401: no authenticator succeeded
        scope = getattr(view, "required_scope", READ_SCOPE)
        scopes = getattr(request.auth, "scopes", None)
        if scopes is not None and scope not in scopes:
            self.message = f"This API token does not have the '{scope}' scope."
            self.code = "TOKEN_SCOPE_MISSING"
            return False
        needed = getattr(view, "permission_required", None)
        if not needed:
            return False
        if isinstance(needed, str):
            needed = (needed,)
        return user.has_perms(needed)


# --- Throttling -----------------------------------------------------------------------------------


class ApiRateThrottle(throttling.ScopedRateThrottle):
    """Rates per token (or per signed-in user), by the view's ``throttle_scope``:
    ``api_read`` or ``api_replay`` (settings REST_FRAMEWORK DEFAULT_THROTTLE_RATES, from
    HUBCONSOLE_API_THROTTLE_READ and HUBCONSOLE_API_THROTTLE_REPLAY)."""

    def get_rate(self):
        # Read at each request (DRF binds the rates at import), so tests can override them.
        try:
            rate = api_settings.DEFAULT_THROTTLE_RATES[self.scope]
        except KeyError:
            raise ImproperlyConfigured(f"No throttle rate for scope {self.scope!r}.") from None
        try:
            self.parse_rate(rate)
        except (ValueError, KeyError, IndexError):
            raise ImproperlyConfigured(
                f"Throttle rate {rate!r} of {self.scope!r} is not like '600/min'."
            ) from None
        return rate

    def get_cache_key(self, request, view):
        token_id = getattr(request.auth, "pk", None)
        if token_id is not None:
            ident = f"token:{token_id}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"addr:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


# --- Pagination -----------------------------------------------------------------------------------


class ApiCursorPagination(pagination.CursorPagination):
    """Keyset pages (``?cursor=``): a deep page costs what the first one costs, and rows added
    meanwhile never shift a page. Subclasses name the ordering, which an index must serve."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = ("-id",)

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except (exceptions.NotFound, DjangoValidationError, ValueError, OverflowError):
            # A cursor is opaque; one that was tampered with is bad input, not a missing page.
            raise exceptions.ValidationError({"cursor": ["Invalid cursor."]}) from None
