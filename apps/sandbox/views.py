"""HTTP face of the simulated targets (served by the sandbox process only)."""

import json
import time
from collections.abc import Callable

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from apps.sandbox.choices import FaultModeChoices
from apps.sandbox.erp import ErpRejected, erp_document_list, erp_document_post
from apps.sandbox.services import (
    KeyReused,
    fault_add,
    fault_take,
    faults_clear,
    posting_accept,
    postings_summary,
)


def _error(
    status: int, message: str, *, code: str = "", field: str = "", **headers
) -> JsonResponse:
    error = {"code": code, "message": message, "field": field} if code else {"message": message}
    response = JsonResponse({"error": error}, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def _with_faults(target: str, answer: Callable[[], HttpResponse], *, also=()) -> HttpResponse:
    """Answer through the next injected fault of ``target``, if one is active.

    ``answer`` is the target's normal processing; timeout and lose_answer run it (the work is
    committed) and then withhold the answer, the others answer instead of it or delay it.
    """
    fault = fault_take(target=target, also=also)
    if fault is None:
        return answer()
    if fault.mode == FaultModeChoices.LATENCY:
        time.sleep(fault.latency_ms / 1000)
    elif fault.mode == FaultModeChoices.STATUS:
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
        return _error(fault.status, f"Injected {fault.status}.", **headers)
    elif fault.mode == FaultModeChoices.REJECT:
        return _error(
            422,
            "Injected business rejection: the document failed validation.",
            code="INJECTED_REJECTION",
        )
    elif fault.mode == FaultModeChoices.TIMEOUT:
        response = answer()
        time.sleep(fault.latency_ms / 1000)
        return response
    elif fault.mode == FaultModeChoices.LOSE_ANSWER:
        answer()
        return _error(502, "Injected: the posting was stored but the answer was lost.")
    return answer()


class _BadRequest(Exception):
    """The request cannot be read (HTTP 400); the message says why."""


def _json_request(request) -> tuple[str, dict]:
    """The Idempotency-Key and the JSON object body of a posting."""
    key = request.headers.get("Idempotency-Key", "")
    if not key:
        raise _BadRequest("The Idempotency-Key header is required.")
    if len(key) > 300:
        raise _BadRequest("The Idempotency-Key header is longer than 300 characters.")
    try:
        body = json.loads(request.body)
    except ValueError:
        raise _BadRequest("The body is not JSON.") from None
    if not isinstance(body, dict):
        raise _BadRequest("The body must be a JSON object.")
    return key, body


def _accept(target: str, key: str, body: dict) -> JsonResponse:
    reason = (
        (body.get("data") or {}).get("reject_reason")
        if isinstance(body.get("data"), dict)
        else None
    )
    if reason:
        return _error(422, f"Rejected: {reason}")
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
    try:
        key, body = _json_request(request)
    except _BadRequest as error:
        return _error(400, str(error))
    return _with_faults(target, lambda: _accept(target, key, body))


def _erp_post(kind: str, key: str, body: dict) -> JsonResponse:
    try:
        answer = erp_document_post(kind=kind, idempotency_key=key, body=body)
    except ErpRejected as rejection:
        return _error(422, rejection.message, code=rejection.code, field=rejection.field)
    response = JsonResponse(
        {"id": answer.erp_id, "status": answer.status}, status=200 if answer.replayed else 201
    )
    response["Idempotent-Replayed"] = "true" if answer.replayed else "false"
    return response


@csrf_exempt
@require_http_methods(["GET", "POST"])
def erp_documents(request, kind: str, resource: str):
    """The ERP's REST resources; faults for ``erp`` (or ``erp-<resource>``) apply to them."""
    if request.method == "GET":
        number = request.GET.get("number", "")
        documents_ = erp_document_list(kind=kind, number=number)
        return JsonResponse({"kind": kind, "count": len(documents_), "documents": documents_})
    try:
        key, body = _json_request(request)
    except _BadRequest as error:
        return _error(400, str(error))
    return _with_faults("erp", lambda: _erp_post(kind, key, body), also=[f"erp-{resource}"])


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
