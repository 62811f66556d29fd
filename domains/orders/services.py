"""Checkout, fulfilment, failure, expiry and refunds of orders.

Rules
-----
* Every state change of an order happens with the order row locked (`select_for_update`)
  inside one transaction, and is recorded in `OrderStatusChange`. Fulfilment checks
  `fulfilled_at` under that lock, so whichever of the webhook and `confirmCheckout` comes
  first issues the tickets and the other finds the work done: exactly once.
* Capacity is taken with conditional UPDATEs (domains/tickets/inventory.py), ticket types in
  id order, after the order row: one lock order everywhere, so no deadlocks.
* One PaymentIntent per checkout: the idempotency key is derived from the order's public id,
  the PaymentIntent is created while the order row is locked and its id is stored in the same
  transaction (see domains/payments/gateway.py for why localstripe needs the lock).
* Stripe is asked for the truth (`retrieve`) when an event cannot be applied as it stands
  (a refund before the success we have not seen yet).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F

from domains.common.clock import now
from domains.common.errors import DomainError
from domains.notifications.services import email_enqueue
from domains.orders import conf
from domains.orders.errors import OrderErrorCode
from domains.orders import gateway as payment_gateway
from domains.orders.models import (
    InventoryHold,
    InvoiceSequence,
    Order,
    OrderLine,
    OrderStatusChange,
    Payment,
    Refund,
)
from domains.payments.gateway import (
    PaymentDeclined,
    PaymentGatewayError,
    PaymentGatewayUnavailable,
    PaymentIntentInfo,
    idempotency_key,
)
from domains.tickets import inventory
from domains.tickets.errors import TicketErrorCode
from domains.tickets.models import Ticket, TicketType
from domains.tickets.selectors import is_on_sale
from domains.tickets.services import tickets_issue, tickets_void

log = logging.getLogger(__name__)

MAX_LINES = 20


@dataclass(frozen=True)
class CheckoutLine:
    ticket_type_id: uuid.UUID
    quantity: int


@dataclass
class CheckoutResult:
    order: Order
    client_secret: str | None
    payment_intent_id: str | None


@dataclass
class FulfilResult:
    """What a fulfilment attempt did: `issued` is True for the one call that issued tickets."""

    order: Order
    issued: bool
    outcome: str  # fulfilled | already_fulfilled | amount_mismatch | foreign_payment | no_capacity | ...


# --------------------------------------------------------------------------- helpers


def _set_status(order: Order, to_status: str, *, source: str, note: str = "", actor=None) -> None:
    if order.status == to_status:
        return
    OrderStatusChange.objects.create(
        order=order, from_status=order.status, to_status=to_status, source=source, note=note[:300], actor=actor
    )
    order.status = to_status


def _lock_order(pk: int) -> Order:
    return Order.objects.select_for_update().select_related("festival", "buyer").get(pk=pk)


def _release_holds(order: Order) -> None:
    holds = list(order.holds.filter(status=InventoryHold.Status.ACTIVE).order_by("ticket_type_id"))
    for hold in holds:
        inventory.release(hold.ticket_type_id, hold.quantity)
    order.holds.filter(pk__in=[h.pk for h in holds]).update(status=InventoryHold.Status.RELEASED, closed_at=now())


def _checkout_key(order: Order) -> str:
    return idempotency_key("checkout", order.public_id)


# --------------------------------------------------------------------------- checkout


def _parse_lines(lines: list[CheckoutLine]) -> dict[uuid.UUID, tuple[int, int]]:
    """ticket type public id -> (quantity, first input index); duplicates are summed."""
    if not lines:
        raise DomainError(OrderErrorCode.EMPTY_ORDER, "Choose at least one ticket.", "lines")
    if len(lines) > MAX_LINES:
        raise DomainError(OrderErrorCode.INVALID_QUANTITY, f"At most {MAX_LINES} lines per order.", "lines")
    merged: dict[uuid.UUID, tuple[int, int]] = {}
    for index, line in enumerate(lines):
        if line.quantity < 1:
            raise DomainError(OrderErrorCode.INVALID_QUANTITY, "Quantity must be at least 1.", f"lines.{index}.quantity")
        qty, first = merged.get(line.ticket_type_id, (0, index))
        merged[line.ticket_type_id] = (qty + line.quantity, first)
    return merged


def checkout_create(*, buyer, lines: list[CheckoutLine]) -> CheckoutResult:
    """Validate the lines, hold the tickets, create the order and its PaymentIntent.

    Errors: EMPTY_ORDER, INVALID_QUANTITY, TICKET_TYPE_NOT_FOUND, NOT_ON_SALE,
    ORDER_LIMIT_EXCEEDED, MIXED_ORDER, SOLD_OUT, PAYMENT_PROVIDER_UNAVAILABLE.
    """
    wanted = _parse_lines(lines)
    types = {t.public_id: t for t in TicketType.objects.select_related("festival").filter(public_id__in=list(wanted))}
    at = now()
    for public_id, (qty, index) in wanted.items():
        tt = types.get(public_id)
        if tt is None:
            raise DomainError(TicketErrorCode.TICKET_TYPE_NOT_FOUND, "Unknown ticket type.", f"lines.{index}.ticketTypeId")
        if not is_on_sale(tt, at):
            raise DomainError(TicketErrorCode.NOT_ON_SALE, f"{tt.name} is not on sale.", f"lines.{index}.ticketTypeId")
        if qty > tt.per_order_limit:
            raise DomainError(
                TicketErrorCode.ORDER_LIMIT_EXCEEDED,
                f"At most {tt.per_order_limit} x {tt.name} per order.",
                f"lines.{index}.quantity",
            )
    chosen = list(types.values())
    if len({t.festival_id for t in chosen}) > 1 or len({t.currency for t in chosen}) > 1:
        raise DomainError(OrderErrorCode.MIXED_ORDER, "One order holds tickets of one festival and currency.", "lines")

    festival = chosen[0].festival
    total = sum(types[pid].price_amount * qty for pid, (qty, _) in wanted.items())
    expires_at = at + conf.hold_ttl()
    # The rows are written first and the capacity counters last: the counter UPDATE locks the
    # ticket type's row until COMMIT, and every buyer of that type queues on it, so the lock
    # is held for one round trip instead of five (the on-sale rush benchmark's bottleneck).
    # Sold out rolls the order back with everything else.
    with transaction.atomic():
        order = Order.objects.create(
            buyer=buyer,
            festival=festival,
            currency=chosen[0].currency,
            total_amount=total,
            tax_amount=conf.included_tax(total),
            expires_at=expires_at,
        )
        OrderLine.objects.bulk_create(
            [
                OrderLine(order=order, ticket_type=tt, quantity=wanted[tt.public_id][0], unit_price=tt.price_amount, currency=tt.currency)
                for tt in sorted(chosen, key=lambda t: t.pk)
            ]
        )
        InventoryHold.objects.bulk_create(
            [
                InventoryHold(order=order, ticket_type=tt, quantity=wanted[tt.public_id][0], expires_at=expires_at)
                for tt in sorted(chosen, key=lambda t: t.pk)
            ]
        )
        OrderStatusChange.objects.create(order=order, from_status="", to_status=Order.Status.PENDING, source="checkout")
        for tt in sorted(chosen, key=lambda t: t.pk):
            qty, index = wanted[tt.public_id]
            if not inventory.reserve(tt.pk, qty):
                # Expired holds may still be counted: return them to sale, then try once more.
                holds_release_expired(ticket_type_id=tt.pk)
                if not inventory.reserve(tt.pk, qty):
                    raise DomainError(
                        TicketErrorCode.SOLD_OUT, f"Not enough {tt.name} tickets left.", f"lines.{index}.quantity"
                    )

    if total == 0:
        # Free tickets: nothing to pay, fulfil now.
        result = order_fulfil(order_id=order.pk, payment=None, source="checkout")
        return CheckoutResult(order=result.order, client_secret=None, payment_intent_id=None)
    try:
        pi = ensure_payment_intent(order_id=order.pk)
    except PaymentGatewayError as exc:
        # No client secret reached the buyer: give the tickets back now, nothing half-made stays.
        order_abandon(order_id=order.pk, source="checkout", note=f"payment intent not created: {exc.code}")
        raise DomainError(
            OrderErrorCode.PAYMENT_PROVIDER_UNAVAILABLE, "Payments are unavailable right now; please try again.", retry_after=5
        ) from exc
    order.refresh_from_db()
    return CheckoutResult(order=order, client_secret=pi.client_secret, payment_intent_id=pi.id)


def ensure_payment_intent(*, order_id: int, attempts: int = 2) -> PaymentIntentInfo:
    """The order's PaymentIntent, created at most once (order row locked, key from the order).

    A timeout is retried with the same key: on Stripe the key replays the first answer, on
    localstripe the gateway finds the PaymentIntent by the key in its metadata.
    """
    gateway = payment_gateway.get_gateway()
    with transaction.atomic():
        order = _lock_order(order_id)
        if order.payment_intent_id:
            return gateway.retrieve_payment_intent(order.payment_intent_id)
        last: PaymentGatewayUnavailable | None = None
        for _ in range(attempts):
            try:
                pi = gateway.create_payment_intent(
                    amount=order.total_amount,
                    currency=order.currency,
                    idempotency_key=_checkout_key(order),
                    metadata={"order_id": str(order.public_id), "order_number": order.number},
                )
                break
            except PaymentGatewayUnavailable as exc:
                last = exc
        else:
            assert last is not None
            raise last
        order.payment_intent_id = pi.id
        order.save(update_fields=["payment_intent_id", "updated_at"])
        Payment.objects.get_or_create(
            provider_payment_id=pi.id,
            defaults={"order": order, "amount": pi.amount, "currency": pi.currency.upper()},
        )
    return pi


def order_abandon(*, order_id: int, source: str, note: str = "") -> Order:
    """A pending checkout that will not be paid through us: fail it and release its hold."""
    with transaction.atomic():
        order = _lock_order(order_id)
        if order.status == Order.Status.PENDING:
            _release_holds(order)
            _set_status(order, Order.Status.FAILED, source=source, note=note)
            order.save(update_fields=["status", "updated_at"])
    return order


# --------------------------------------------------------------------------- confirm


@dataclass
class ConfirmResult:
    order: Order
    payment_status: str
    client_secret: str | None


def checkout_confirm(*, buyer, order_public_id: uuid.UUID) -> ConfirmResult:
    """Ask Stripe how the checkout's payment stands; fulfil when it succeeded.

    Errors: ORDER_NOT_FOUND (also for someone else's order), ORDER_EXPIRED, ORDER_NOT_PAYABLE,
    PAYMENT_NOT_COMPLETED, PAYMENT_DECLINED, PAYMENT_PROVIDER_UNAVAILABLE.
    """
    order = Order.objects.filter(public_id=order_public_id, buyer=buyer).first()
    if order is None:
        raise DomainError(OrderErrorCode.ORDER_NOT_FOUND, "Order not found.", "orderId")
    if order.fulfilled_at is not None:
        return ConfirmResult(order=order, payment_status="succeeded", client_secret=None)
    if order.payment_intent_id is None:
        if order.status != Order.Status.PENDING:
            raise DomainError(OrderErrorCode.ORDER_NOT_PAYABLE, f"This order is {order.status}.", "orderId")
        if order.total_amount == 0:
            return ConfirmResult(order=order_fulfil(order_id=order.pk, payment=None, source="confirm").order, payment_status="succeeded", client_secret=None)
    try:
        pi = ensure_payment_intent(order_id=order.pk) if order.payment_intent_id is None else payment_gateway.get_gateway().retrieve_payment_intent(order.payment_intent_id)
    except PaymentGatewayError as exc:
        raise DomainError(
            OrderErrorCode.PAYMENT_PROVIDER_UNAVAILABLE, "Could not reach the payment provider; please try again.", retry_after=5
        ) from exc
    if pi.status == "succeeded":
        result = order_fulfil(order_id=order.pk, payment=pi, source="confirm")
        if result.order.fulfilled_at is None:
            raise DomainError(
                OrderErrorCode.ORDER_NOT_PAYABLE,
                "Your payment arrived after the order had expired and the tickets were gone; it will be refunded.",
                "orderId",
            )
        return ConfirmResult(order=result.order, payment_status=pi.status, client_secret=None)
    order.refresh_from_db()
    if order.status == Order.Status.EXPIRED or (order.status == Order.Status.PENDING and order.expires_at <= now()):
        raise DomainError(OrderErrorCode.ORDER_EXPIRED, "This checkout expired; please start again.", "orderId")
    if order.status != Order.Status.PENDING:
        raise DomainError(OrderErrorCode.ORDER_NOT_PAYABLE, f"This order is {order.status}.", "orderId")
    if pi.status == "requires_payment_method" and order.payments.filter(status=Payment.Status.FAILED).exists():
        raise DomainError(OrderErrorCode.PAYMENT_DECLINED, "The payment was declined.", "orderId")
    raise DomainError(OrderErrorCode.PAYMENT_NOT_COMPLETED, f"The payment is not complete ({pi.status}).", "orderId")


# --------------------------------------------------------------------------- fulfilment


def _next_invoice_number(festival_id: int) -> int:
    seq, _ = InvoiceSequence.objects.get_or_create(festival_id=festival_id)
    seq = InvoiceSequence.objects.select_for_update().get(pk=seq.pk)
    number = seq.next_number
    InvoiceSequence.objects.filter(pk=seq.pk).update(next_number=F("next_number") + 1)
    return number


def order_fulfil(*, order_id: int, payment: PaymentIntentInfo | None, source: str) -> FulfilResult:
    """Issue the order's tickets once, for a PaymentIntent that succeeded (None: free order).

    Safe to call any number of times from any path: the order row lock serialises callers
    and `fulfilled_at` tells the later ones it is done.
    """
    with transaction.atomic():
        order = _lock_order(order_id)
        if payment is not None:
            if order.payment_intent_id is None:
                order.payment_intent_id = payment.id  # PaymentIntent created, id lost (timeout): adopt it
                order.save(update_fields=["payment_intent_id", "updated_at"])
            pay_row, _ = Payment.objects.get_or_create(
                provider_payment_id=payment.id,
                defaults={"order": order, "amount": payment.amount, "currency": payment.currency.upper()},
            )
            if pay_row.status != Payment.Status.SUCCEEDED:
                pay_row.status = Payment.Status.SUCCEEDED
                pay_row.charge_id = payment.latest_charge or ""
                pay_row.save(update_fields=["status", "charge_id", "updated_at"])
            if payment.id != order.payment_intent_id:
                log.warning("second payment for an order", extra={"order": str(order.public_id), "pi": payment.id})
                return FulfilResult(order, False, "foreign_payment")
            if payment.amount != order.total_amount or payment.currency.upper() != order.currency.upper():
                log.warning("payment amount does not match order", extra={"order": str(order.public_id), "pi": payment.id})
                if order.status == Order.Status.PENDING:
                    _set_status(order, Order.Status.NEEDS_ATTENTION, source=source, note="amount mismatch")
                    _release_holds(order)
                    order.save(update_fields=["status", "updated_at"])
                return FulfilResult(order, False, "amount_mismatch")
        if order.fulfilled_at is not None:
            return FulfilResult(order, False, "already_fulfilled")
        if order.status not in (Order.Status.PENDING, Order.Status.FAILED, Order.Status.EXPIRED):
            return FulfilResult(order, False, f"not_fulfillable_{order.status}")

        lines = list(order.lines.select_related("ticket_type").order_by("ticket_type_id"))
        holds = {h.ticket_type_id: h for h in order.holds.filter(status=InventoryHold.Status.ACTIVE)}
        late = False
        sid = transaction.savepoint()
        for line in lines:
            hold = holds.get(line.ticket_type_id)
            if hold is not None and hold.quantity == line.quantity:
                inventory.convert(line.ticket_type_id, line.quantity)
            else:
                late = True  # the hold was released (expired / failed): sell again if any left
                if not inventory.take(line.ticket_type_id, line.quantity):
                    transaction.savepoint_rollback(sid)
                    _set_status(order, Order.Status.NEEDS_ATTENTION, source=source, note="paid after the hold was released; sold out")
                    order.paid_at = order.paid_at or now()
                    order.save(update_fields=["status", "paid_at", "updated_at"])
                    log.warning("paid order could not be fulfilled: sold out", extra={"order": str(order.public_id)})
                    return FulfilResult(order, False, "no_capacity")
        transaction.savepoint_commit(sid)
        order.holds.filter(status=InventoryHold.Status.ACTIVE).update(status=InventoryHold.Status.CONVERTED, closed_at=now())
        for line in lines:
            tickets_issue(ticket_type=line.ticket_type, holder=order.buyer, quantity=line.quantity, order_line=line)
        at = now()
        order.paid_at = order.paid_at or at
        order.fulfilled_at = at
        order.invoice_number = _next_invoice_number(order.festival_id)
        order.invoice_issued_at = at
        _set_status(order, Order.Status.PAID, source=source, note="late payment re-sold" if late else "")
        order.save(update_fields=["status", "paid_at", "fulfilled_at", "invoice_number", "invoice_issued_at", "updated_at"])
        email_enqueue(
            key=f"order-confirmation:{order.public_id}",
            to_email=order.buyer.email,
            template="order_confirmation",
            context={
                "order_number": order.number,
                "order_id": str(order.public_id),
                "festival_name": order.festival.name,
                "buyer_name": order.buyer.full_name,
                "lines": [{"name": ln.ticket_type.name, "quantity": ln.quantity} for ln in lines],
                "total": format_money(order.total_amount, order.currency),
            },
            attachments=[{"kind": "ticket_pdfs", "id": str(order.public_id)}, {"kind": "invoice_pdf", "id": str(order.public_id)}],
        )
        transaction.on_commit(lambda: _enqueue_documents(order.pk))
    log.info("order fulfilled", extra={"order": str(order.public_id), "source": source})
    return FulfilResult(order, True, "fulfilled")


def _enqueue_documents(order_id: int) -> None:
    from workers.orders import render_order_documents

    render_order_documents.send(order_id)


def format_money(amount: int, currency: str) -> str:
    return f"{amount / 100:,.2f} {currency.upper()}"


# --------------------------------------------------------------------------- failure, expiry


def order_payment_failed(*, order_id: int, payment: PaymentIntentInfo, failure_code: str = "", failure_message: str = "", source: str) -> str:
    """A payment attempt failed: fail the pending order and release its hold.

    A failure that arrives after the order was paid (or for another PaymentIntent) changes
    nothing but the Payment row of that attempt.
    """
    with transaction.atomic():
        order = _lock_order(order_id)
        pay_row, _ = Payment.objects.get_or_create(
            provider_payment_id=payment.id,
            defaults={"order": order, "amount": payment.amount, "currency": payment.currency.upper()},
        )
        if pay_row.status == Payment.Status.SUCCEEDED:
            return "ignored_after_success"
        pay_row.status = Payment.Status.FAILED
        pay_row.failure_code = failure_code[:64]
        pay_row.failure_message = failure_message[:300]
        pay_row.save(update_fields=["status", "failure_code", "failure_message", "updated_at"])
        if order.payment_intent_id != payment.id or order.status != Order.Status.PENDING:
            return "ignored"
        _release_holds(order)
        _set_status(order, Order.Status.FAILED, source=source, note=failure_code)
        order.save(update_fields=["status", "updated_at"])
    return "failed"


def holds_release_expired(*, ticket_type_id: int | None = None, limit: int = 500) -> int:
    """Expire pending orders whose hold ran out and return their tickets to sale.

    Orders locked by someone else (being fulfilled right now) are skipped, not waited for.
    """
    at = now()
    qs = Order.objects.filter(status=Order.Status.PENDING, expires_at__lte=at)
    if ticket_type_id is not None:
        qs = qs.filter(holds__ticket_type_id=ticket_type_id, holds__status=InventoryHold.Status.ACTIVE)
    ids = list(qs.order_by("expires_at").values_list("pk", flat=True).distinct()[:limit])
    released = 0
    for pk in ids:
        with transaction.atomic():
            order = (
                Order.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=Order.Status.PENDING, expires_at__lte=at)
                .first()
            )
            if order is None:
                continue
            _release_holds(order)
            _set_status(order, Order.Status.EXPIRED, source="expiry")
            order.save(update_fields=["status", "updated_at"])
            released += 1
    if released:
        log.info("expired holds released", extra={"orders": released})
    return released


# --------------------------------------------------------------------------- refunds


@dataclass(frozen=True)
class RefundFact:
    provider_refund_id: str
    amount: int
    currency: str
    ticket_public_ids: tuple[str, ...] = ()
    reason: str = ""


def order_record_refunds(*, order_id: int, payment_intent_id: str, refunds: list[RefundFact], amount_refunded: int, source: str, actor=None) -> str:
    """Record refunds Stripe made (once each, by refund id) and void the refunded tickets.

    Tickets named in the refund's metadata (`ticket_ids`, as staff refunds will set) are
    voided; without names, a refund that covers the whole order voids every ticket. A refund
    of a second (duplicate) payment is recorded but keeps the order and its tickets.
    """
    with transaction.atomic():
        order = _lock_order(order_id)
        pay_row = Payment.objects.filter(provider_payment_id=payment_intent_id).first()
        new = []
        for fact in refunds:
            try:
                with transaction.atomic():
                    new.append(
                        (
                            Refund.objects.create(
                                order=order,
                                payment=pay_row,
                                provider_refund_id=fact.provider_refund_id,
                                amount=fact.amount,
                                currency=fact.currency.upper(),
                                reason=fact.reason[:200],
                                created_by=actor,
                            ),
                            fact,
                        )
                    )
            except IntegrityError:
                continue  # already recorded
        if not new:
            return "ignored"
        if payment_intent_id != order.payment_intent_id:
            return "duplicate_payment_refunded"
        order.refunded_amount = min(order.total_amount, order.refunded_amount + sum(r.amount for r, _ in new))
        for refund, fact in new:
            valid = Ticket.objects.filter(order_line__order=order, status=Ticket.Status.VALID)
            if fact.ticket_public_ids:
                targets = list(valid.filter(public_id__in=list(fact.ticket_public_ids)))
            elif order.refunded_amount >= order.total_amount:
                targets = list(valid)
            else:
                targets = []
            if targets:
                tickets_void(tickets=targets, status=Ticket.Status.REFUNDED, reason="refunded", refund=refund)
        if order.refunded_amount >= order.total_amount:
            _set_status(order, Order.Status.REFUNDED, source=source, actor=actor)
        elif order.status == Order.Status.PAID:
            _set_status(order, Order.Status.PARTIALLY_REFUNDED, source=source, actor=actor)
        order.save(update_fields=["status", "refunded_amount", "updated_at"])
    return "refunded"
