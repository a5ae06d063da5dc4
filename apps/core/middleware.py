"""Request id middleware: accepts a sane X-Request-ID or makes one, and echoes it back."""

import re

from apps.core.context import new_request_id, request_id_var

# Only ids that cannot smuggle anything into a log line are taken from the caller.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


class RequestIdMiddleware:
    header = "X-Request-ID"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        supplied = request.headers.get(self.header, "")
        request_id = supplied if _SAFE_ID.fullmatch(supplied) else new_request_id()
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[self.header] = request_id
        return response
