"""Liveness and readiness endpoints for load balancers and orchestrators."""

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.core.health import readiness_checks


@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    checks = readiness_checks()
    ready = all(check.ok for check in checks)
    body = {
        "status": "ready" if ready else "not ready",
        "checks": {
            check.name: ("ok" if check.ok else check.detail or "failed") for check in checks
        },
    }
    return JsonResponse(body, status=200 if ready else 503)
