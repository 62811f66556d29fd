"""Stripe events -> order services. The HTTP view (schema/orders/rest.py) only passes bytes in.

1. The signature is verified (domains.payments.webhooks.verify_webhook: wrong secret, changed
   body, stale or future timestamp -> InvalidWebhook, the view answers 400, nothing stored), then
   the shape of the fields the handlers read (domains.payments.event_shapes: same answer).
2. The event is stored under its Stripe id (unique constraint) in the same transaction as its
   effect: a replay, sequential or concurrent, finds the row and does nothing; an effect that
   fails rolls the row back too, so Stripe's retry runs it again.
3. Events we cannot apply (unknown order, amount mismatch, payment after the tickets were
   gone) are stored with outcome `needs_attention` and logged for staff; state is untouched.
4. Disputes (`charge.dispute.*`, every one carrying the dispute as it stands) go to
   domains/orders/disputes.py, which says what each status does.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction

from domains.common.clock import now
from domains.orders import gateway as payment_gateway
from domains.orders import services
from domains.orders.models import Order, Payment, WebhookEvent
from domains.payments.event_shapes import check_event_shape, expanded_id, expanded_object
from domains.payments.gateway import PaymentGatewayError, PaymentIntentInfo
from domains.payments.webhooks import verify_webhook

log = logging.getLogger(__name__)

DISPUTE_EVENTS = (
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
)
HANDLED = ("payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded", *DISPUTE_EVENTS)


@dataclass
class WebhookResult:
    event_id: str
    duplicate: bool
    outcome: str
    note: str = ""


def _find_order(payment_intent_id: str | None, metadata: dict) -> Order | None:
    if payment_intent_id:
        order = Order.objects.filter(payment_intent_id=payment_intent_id).first()
        if order is not None:
            return order
        payment = Payment.objects.select_related("order").filter(provider_payment_id=payment_intent_id).first()
        if payment is not None:
            return payment.order
    order_id = (metadata or {}).get("order_id")
    if order_id:
        try:
            return Order.objects.filter(public_id=uuid.UUID(order_id)).first()
        except ValueError:
            return None
    return None


def _named_ticket_ids(metadata: dict[str, str]) -> tuple[str, ...]:
    """The tickets a refund's metadata names (``ticket_ids``, comma-separated public ids, as
    our staff refunds set them). A name that is no UUID names no ticket of ours: it is left out
    (a refund made in Stripe's dashboard may carry anything there)."""
    named = []
    for part in metadata.get("ticket_ids", "").split(","):
        try:
            named.append(str(uuid.UUID(part.strip())))
        except ValueError:
            continue
    return tuple(named)


def _staff_sequence_of(metadata: dict[str, str]) -> int | None:
    """The number our staff refunds put in `staff_refund` (domains/orders/refunds.py), if any."""
    value = metadata.get("staff_refund", "")
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else None


def stripe_webhook_receive(*, payload: bytes, signature_header: str | None) -> WebhookResult:
    event = verify_webhook(
        payload, signature_header, settings.STRIPE_WEBHOOK_SECRET, tolerance=settings.STRIPE_WEBHOOK_TOLERANCE
    )
    check_event_shape(event)  # the fields read below have the types they are read as
    event_id, event_type, obj = event["id"], event["type"], event["data"]["object"]

    with transaction.atomic():
        try:
            with transaction.atomic():
                row = WebhookEvent.objects.create(stripe_event_id=event_id, type=event_type, payload=event)
        except IntegrityError:
            return WebhookResult(event_id, True, "duplicate")
        outcome, note, order = _dispatch(event_type, obj)
        row.outcome = outcome
        row.note = note[:300]
        row.order = order
        row.processed_at = now()
        row.save(update_fields=["outcome", "note", "order", "processed_at"])
    if outcome == WebhookEvent.Outcome.NEEDS_ATTENTION:
        log.warning("stripe event needs attention", extra={"event_id": event_id, "type": event_type, "note": note})
    return WebhookResult(event_id, False, outcome, note)


def _dispatch(event_type: str, obj: dict) -> tuple[str, str, Order | None]:
    Outcome = WebhookEvent.Outcome
    if event_type not in HANDLED:
        return Outcome.IGNORED, "unhandled event type", None
    if event_type.startswith("payment_intent."):
        pi = PaymentIntentInfo.from_stripe(obj)
        from domains.upgrades.webhooks import is_upgrade_payment, upgrade_payment_event

        if is_upgrade_payment(pi):  # the price difference of a ticket upgrade (issue 4)
            outcome, note = upgrade_payment_event(event_type, pi, obj)
            return outcome, note, None
        order = _find_order(pi.id, pi.metadata)
        if order is None:
            return Outcome.NEEDS_ATTENTION, f"no order for payment intent {pi.id}", None
        if event_type == "payment_intent.succeeded":
            result = services.order_fulfil(order_id=order.pk, payment=pi, source="webhook")
            if result.outcome in ("fulfilled", "already_fulfilled"):
                return Outcome.PROCESSED if result.issued else Outcome.IGNORED, result.outcome, order
            return Outcome.NEEDS_ATTENTION, result.outcome, order
        error = obj.get("last_payment_error") or {}
        outcome = services.order_payment_failed(
            order_id=order.pk,
            payment=pi,
            failure_code=str(error.get("code") or error.get("decline_code") or "payment_failed"),
            failure_message=str(error.get("message") or ""),
            source="webhook",
        )
        return (Outcome.PROCESSED if outcome == "failed" else Outcome.IGNORED), outcome, order

    if event_type in DISPUTE_EVENTS:
        return _dispute_event(obj)

    # charge.refunded: the object is a Charge.
    from domains.upgrades.webhooks import upgrade_refund_event

    upgrade_outcome = upgrade_refund_event(obj)  # a refund of an upgrade's price difference
    if upgrade_outcome is not None:
        return upgrade_outcome[0], upgrade_outcome[1], None
    pi_id = expanded_id(obj.get("payment_intent"))
    order = _find_order(pi_id, obj.get("metadata") or {})
    if order is None:
        return Outcome.NEEDS_ATTENTION, f"no order for charge {obj.get('id')}", None
    _success_first(order, pi_id)
    refunds_data = ((obj.get("refunds") or {}).get("data")) or []
    facts = []
    for r in refunds_data:  # each a refund with an id and an amount (check_event_shape)
        meta = r.get("metadata") or {}
        facts.append(
            services.RefundFact(
                provider_refund_id=r["id"],
                amount=r["amount"],
                currency=r.get("currency") or obj.get("currency") or order.currency,
                ticket_public_ids=_named_ticket_ids(meta),
                reason=r.get("reason") or "",
                staff_sequence=_staff_sequence_of(meta),
            )
        )
    if not facts:
        return Outcome.NEEDS_ATTENTION, "charge.refunded without refund objects", order
    outcome = services.order_record_refunds(
        order_id=order.pk,
        payment_intent_id=pi_id,
        refunds=facts,
        amount_refunded=int(obj.get("amount_refunded") or 0),
        source="webhook",
    )
    if outcome == "duplicate_payment_refunded":
        return Outcome.PROCESSED, outcome, order
    return (Outcome.PROCESSED if outcome == "refunded" else Outcome.IGNORED), outcome, order


def _success_first(order: Order, pi_id: str | None) -> None:
    """A refund or dispute before the success we have not seen yet: ask Stripe, and apply the
    success first, so the tickets it voids exist (the final state is what Stripe says)."""
    if order.fulfilled_at is None and pi_id == order.payment_intent_id:
        try:
            pi = payment_gateway.get_gateway().retrieve_payment_intent(pi_id)
        except PaymentGatewayError:
            raise  # rolls back; Stripe delivers again later
        if pi.status == "succeeded":
            services.order_fulfil(order_id=order.pk, payment=pi, source="webhook")


# dispute_record outcomes -> the event's outcome; what is not here needs staff.
_DISPUTE_OUTCOMES = {
    "recorded": WebhookEvent.Outcome.PROCESSED,
    "updated": WebhookEvent.Outcome.PROCESSED,
    "closed": WebhookEvent.Outcome.PROCESSED,
    "unchanged": WebhookEvent.Outcome.IGNORED,
    "stale": WebhookEvent.Outcome.IGNORED,
    "already_closed": WebhookEvent.Outcome.IGNORED,
}


def _dispute_event(obj: dict) -> tuple[str, str, Order | None]:
    """A ``charge.dispute.*`` event: the dispute's PaymentIntent (its own, else its expanded
    charge's) names an upgrade's payment or an order's (or the charge's `order_id` metadata)."""
    from domains.orders.disputes import DisputeFact, dispute_record
    from domains.upgrades.models import Upgrade

    Outcome = WebhookEvent.Outcome
    fact = DisputeFact.from_stripe(obj)
    charge = expanded_object(obj.get("charge"))
    upgrade = Upgrade.objects.filter(payment_intent_id=fact.payment_intent_id).first() if fact.payment_intent_id else None
    if upgrade is not None:
        result = dispute_record(fact=fact, upgrade_id=upgrade.pk)
        order = result.dispute.order if result.dispute else None  # the upgraded ticket's, for the event's row
    else:
        order = _find_order(fact.payment_intent_id, charge.get("metadata") or {})
        if order is None:
            return Outcome.NEEDS_ATTENTION, f"no order for dispute {fact.stripe_dispute_id} (payment intent {fact.payment_intent_id})", None
        if fact.payment_intent_id is None:  # found by the charge's metadata: which payment is unknown
            return Outcome.NEEDS_ATTENTION, f"dispute {fact.stripe_dispute_id} names no payment intent", order
        _success_first(order, fact.payment_intent_id)
        result = dispute_record(fact=fact, order_id=order.pk)
    what = "upgrade dispute" if upgrade is not None else "dispute"
    note = f"{what} {result.outcome}" + (f" {result.dispute.status}" if result.dispute else f" {fact.status}")
    if result.attention:
        return Outcome.NEEDS_ATTENTION, f"{note}: {result.attention}", order
    return _DISPUTE_OUTCOMES.get(result.outcome, Outcome.NEEDS_ATTENTION), note, order
