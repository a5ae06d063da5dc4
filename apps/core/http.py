"""The one JSON error format of every machine-facing endpoint."""

from django.http import JsonResponse

from apps.core.context import current_request_id


def error_response(status: int, code: str, message: str, **headers: str) -> JsonResponse:
    response = JsonResponse(
        {"error": {"code": code, "message": message, "request_id": current_request_id()}},
        status=status,
    )
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response
