"""Sales jobs: render order documents ahead of time, return expired holds to sale."""

import dramatiq

from domains.orders import documents as order_documents
from domains.orders import services
from domains.orders.models import Order
from domains.tickets import documents as ticket_documents


@dramatiq.actor(queue_name="documents", max_retries=5, min_backoff=2_000, max_backoff=120_000, time_limit=300_000)
def render_order_documents(order_id: int) -> None:
    """Warm the PDF cache (tickets and invoice); idempotent (cached by content fingerprint)."""
    order = Order.objects.filter(pk=order_id).only("public_id").first()
    if order is None:
        return
    ticket_documents.order_tickets_pdf(str(order.public_id))
    order_documents.invoice_pdf(str(order.public_id))


@dramatiq.actor(queue_name="maintenance", max_retries=3, time_limit=120_000)
def release_expired_holds() -> None:
    """Return the tickets of expired checkouts to sale. Enqueued every minute by the scheduler
    (`manage.py run_periodic`, workers/periodic.py); checkout also does it lazily."""
    while services.holds_release_expired(limit=500) == 500:
        pass
