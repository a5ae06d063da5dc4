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


class HealthCheckMiddleware:
    """Answer /healthz and /readyz before host validation and redirects.

    Load balancers and orchestrators probe by IP address, which ALLOWED_HOSTS (rightly)
    refuses for every other URL. These two answer nothing but health.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "GET" and request.path in {"/healthz", "/readyz"}:
            from apps.core import views

            return views.healthz(request) if request.path == "/healthz" else views.readyz(request)
        return self.get_response(request)


class TrustedProxyMiddleware:
    """Take the client address from X-Forwarded-For, but only when a trusted proxy sent it.

    Walks the header from the right, skipping trusted proxies, so a client cannot forge its
    address by sending the header itself.
    """

    def __init__(self, get_response):
        from django.conf import settings

        self.trusted = settings.TRUSTED_PROXIES
        self.get_response = get_response

    def __call__(self, request):
        peer = request.META.get("REMOTE_ADDR", "")
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if self.trusted and peer in self.trusted and forwarded:
            hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
            for hop in reversed(hops):
                if hop not in self.trusted:
                    request.META["REMOTE_ADDR"] = hop
                    break
        return self.get_response(request)
