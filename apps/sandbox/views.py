"""HTTP face of the simulated targets (served by the sandbox process only)."""

import json
import time

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from apps.sandbox.choices import FaultModeChoices
from apps.sandbox.services import (
    KeyReused,
    fault_add,
    fault_take,
    faults_clear,
    posting_accept,
    postings_summary,
)


def _error(status: int, message: str, **headers) -> JsonResponse:
    response = JsonResponse({"error": {"message": message}}, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def _accept(target: str, key: str, body: dict) -> JsonResponse:
    try:
        accepted = posting_accept(target=target, idempotency_key=key, body=body)
    except KeyReused as error:
        return _error(422, f"Idempotency-Key already used for {error} with another body.")
    response = JsonResponse(
        {"id": accepted.reference, "status": "posted"}, status=200 if accepted.replayed else 201
    )
    response["Idempotent-Replayed"] = "true" if accepted.replayed else "false"
    return response


@csrf_exempt
@require_http_methods(["GET", "POST"])
def documents(request, target: str):
    if request.method == "GET":
        return JsonResponse(postings_summary(target=target))
    key = request.headers.get("Idempotency-Key", "")
    if not key:
        return _error(400, "The Idempotency-Key header is required.")
    try:
        body = json.loads(request.body)
    except ValueError:
        return _error(400, "The body is not JSON.")
    if not isinstance(body, dict):
        return _error(400, "The body must be a JSON object.")

    fault = fault_take(target=target)
    if fault is not None:
        if fault.mode == FaultModeChoices.LATENCY:
            time.sleep(fault.latency_ms / 1000)
        elif fault.mode == FaultModeChoices.STATUS:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
            return _error(fault.status, f"Injected {fault.status}.", **headers)
        elif fault.mode == FaultModeChoices.REJECT:
            return _error(422, "Injected business rejection: the document failed validation.")
        elif fault.mode == FaultModeChoices.TIMEOUT:
            response = _accept(target, key, body)
            time.sleep(fault.latency_ms / 1000)
            return response
        elif fault.mode == FaultModeChoices.LOSE_ANSWER:
            _accept(target, key, body)
            return _error(502, "Injected: the posting was stored but the answer was lost.")

    reason = (
        (body.get("data") or {}).get("reject_reason")
        if isinstance(body.get("data"), dict)
        else None
    )
    if reason:
        return _error(422, f"Rejected: {reason}")
    return _accept(target, key, body)


@csrf_exempt
@require_http_methods(["POST", "DELETE"])
def faults(request):
    if request.method == "DELETE":
        return JsonResponse({"cleared": faults_clear()})
    try:
        spec = json.loads(request.body)
        fault = fault_add(
            target=spec.get("target", "*"),
            mode=spec["mode"],
            status=int(spec.get("status", 503)),
            retry_after=spec.get("retry_after"),
            latency_ms=int(spec.get("latency_ms", 0)),
            count=spec.get("count"),
            seconds=spec.get("seconds"),
        )
    except (ValueError, KeyError, TypeError) as error:
        return _error(400, f"Bad fault: {error}")
    return JsonResponse({"id": fault.pk}, status=201)


def healthz(request):
    return JsonResponse({"status": "ok", "service": "sandbox"})
