"""The status API's OpenAPI document: every operation lists its error responses, in the one
error format, and the headers every answer carries."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse

from apps.core.api import ErrorSerializer

_ERROR_DESCRIPTIONS = {
    400: "Invalid input (the fields are listed in details.fields).",
    401: "No credentials, or an invalid, expired or revoked token.",
    403: "Missing permission or token scope.",
    404: "No such object.",
    409: "The object's state does not allow this (a coded business refusal).",
    429: "Too many requests; see Retry-After.",
}
HEADERS = {
    "X-Request-ID": {
        "schema": {"type": "string"},
        "description": "The request id (the caller's X-Request-ID when sane, else a new one).",
    },
    "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."},
}


class ApiAutoSchema(AutoSchema):
    """Documents the error responses of every operation, in the one error format."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        parameters = operation.get("parameters", [])
        statuses = {401, 403, 429, *getattr(self.view, "api_error_statuses", ())}
        if any(p["in"] == "path" for p in parameters):
            statuses.add(404)
        if any(p["in"] == "query" for p in parameters) or "requestBody" in operation:
            statuses.add(400)
        if self.method not in {"GET", "HEAD"}:
            statuses.add(409)
        responses = operation["responses"]
        for status in sorted(statuses):
            responses.setdefault(
                str(status),
                self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=_ERROR_DESCRIPTIONS[status]),
                    str(status),
                ),
            )
        for status, response in responses.items():
            headers = response.setdefault("headers", {})
            names = ["X-Request-ID", "Retry-After"] if status == "429" else ["X-Request-ID"]
            for name in names:
                headers[name] = {"$ref": f"#/components/headers/{name}"}
        return operation


def add_header_components(result, generator, request, public):
    """drf-spectacular postprocessing hook: the headers the operations refer to."""
    result.setdefault("components", {})["headers"] = HEADERS
    return result
