"""REST shims of the sales area: the Stripe webhook and signed document downloads."""

from __future__ import annotations

import logging

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from domains.common.signing import verify_download
from domains.orders import documents as order_documents
from domains.orders.webhooks import stripe_webhook_receive
from domains.payments.webhooks import InvalidWebhook
from domains.tickets import documents as ticket_documents

log = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """POST /api/payments/webhook/stripe/: 400 for anything not genuinely from Stripe (nothing
    stored), 200 for a stored event and for a replay of one."""
    try:
        result = stripe_webhook_receive(payload=request.body, signature_header=request.headers.get("Stripe-Signature"))
    except InvalidWebhook as exc:
        # The path of a field of the wrong shape, never its value (the body may hold personal data).
        log.warning("stripe webhook refused", extra={"reason": exc.reason, "path": getattr(exc, "path", None)})
        return JsonResponse({"error": "invalid webhook"}, status=400)
    return JsonResponse({"received": True, "duplicate": result.duplicate, "outcome": result.outcome})


BUILDERS = {
    "invoice": order_documents.invoice_pdf,
    "tickets": ticket_documents.order_tickets_pdf,
    "ticket": ticket_documents.single_ticket_pdf,
}


@require_GET
def download(request, token: str):
    """GET /api/downloads/<signed token>/: the PDF the token names, while it is valid."""
    verified = verify_download(token)
    if verified is None:
        return HttpResponse("This link is invalid or has expired.", status=403, content_type="text/plain")
    kind, object_id = verified
    builder = BUILDERS.get(kind)
    if builder is None:
        return HttpResponse(status=404)
    document = builder(object_id)
    if document is None:
        return HttpResponse("Not found.", status=404, content_type="text/plain")
    filename, content = document
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response
