"""HTTP interfaces of connectors: the inbound webhook endpoint."""

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from apps.connectors.signing import SIGNATURE_HEADER
from apps.connectors.webhooks import WebhookRequest, webhook_receive, webhook_response_body
from apps.core.errors import InputRejected
from apps.core.http import error_response


# Machine-to-machine: authenticated by the HMAC signature, not a session, so CSRF does not
# apply (there is no cookie to ride on).
@csrf_exempt
def webhook_receive_view(request, slug: str):
    if request.method != "POST":
        return error_response(
            405, "method_not_allowed", "Send the message with POST.", Allow="POST"
        )
    if "CONTENT_LENGTH" not in request.META or not request.META["CONTENT_LENGTH"]:
        return error_response(411, "length_required", "Send a Content-Length header.")
    try:
        body = request.body
    except RequestDataTooBig:
        return error_response(413, "payload_too_large", "The body is larger than allowed.")
    try:
        received = webhook_receive(
            request=WebhookRequest(
                slug=slug,
                body=body,
                content_type=request.content_type or "",
                signature=request.headers.get(SIGNATURE_HEADER),
                correlation_id=request.headers.get("X-Correlation-ID"),
                remote_addr=request.META.get("REMOTE_ADDR", ""),
            )
        )
    except InputRejected as error:
        return error_response(error.status, error.code, error.message)
    # Reached only after the commit: the 2xx is the durability promise to the sender.
    status = {"accepted": 202, "duplicate": 200, "conflict": 409}[received.outcome]
    return HttpResponse(
        webhook_response_body(received), status=status, content_type="application/json"
    )
