"""Staff refunds: whole orders, some tickets, or an amount.

Rules
-----
* Only paid or partially refunded orders; at most what is left (total - refunded).
* `ticket_ids`: those tickets are voided (status refunded) and the amount defaults to their
  price. Without tickets and without amount: everything left is refunded and every valid
  ticket voided. Without tickets with an amount below what is left: a goodwill refund of
  money only, tickets stay valid.
* A ticket that was scanned in is refunded only with `override_scanned`.
* The Stripe refund is created while the order row is locked, with an idempotency key from
  the order and the refund's sequence number on it, and its id is stored in the same
  transaction as the voids: the `charge.refunded` event that follows finds the refund id
  recorded (`order_record_refunds` skips it) and voids nothing twice. If we crash after
  Stripe answered, the event (carrying our `ticket_ids` metadata) records it instead, and a
  staff retry is refused because the tickets are no longer valid.
* Voided tickets: status refunded, secret bumped (their QR codes are refused at once),
  capacity back on sale. Order status: refunded when the whole amount is refunded or no
  valid ticket is left, partially_refunded otherwise. Everything is audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import transaction

from domains.audit.admission import tickets_admitted
from domains.audit.services import audit_record
from domains.common.errors import DomainError
from domains.orders import gateway as payment_gateway
from domains.orders.errors import OrderErrorCode
from domains.orders.models import Order, OrderStatusChange, Payment, Refund
from domains.orders.staff_errors import StaffOrderErrorCode as E
from domains.payments.gateway import PaymentDeclined, PaymentGatewayError, PaymentGatewayUnavailable, idempotency_key
from domains.tickets.errors import TicketErrorCode
from domains.tickets.models import Ticket
from domains.tickets.services import tickets_void

REFUNDABLE = (Order.Status.PAID, Order.Status.PARTIALLY_REFUNDED)


@dataclass
class RefundResult:
    order: Order
    refund: Refund
    voided: list[Ticket]


def set_order_status(order: Order, to_status: str, *, source: str, note: str = "", actor=None) -> None:
    if order.status == to_status:
        return
    OrderStatusChange.objects.create(order=order, from_status=order.status, to_status=to_status, source=source, note=note[:300], actor=actor)
    order.status = to_status


def _targets(order: Order, ticket_ids: list[uuid.UUID] | None) -> list[Ticket]:
    tickets = Ticket.objects.select_related("order_line").filter(order_line__order=order)
    if ticket_ids is None:
        return list(tickets.filter(status=Ticket.Status.VALID).order_by("pk"))
    if not ticket_ids:
        raise DomainError(TicketErrorCode.TICKET_NOT_FOUND, "Name at least one ticket, or none for the whole order.", "ticketIds")
    by_id = {t.public_id: t for t in tickets.filter(public_id__in=ticket_ids)}
    for i, tid in enumerate(ticket_ids):
        t = by_id.get(tid)
        if t is None:
            raise DomainError(TicketErrorCode.TICKET_NOT_FOUND, "This ticket is not part of the order.", f"ticketIds.{i}")
        if t.status != Ticket.Status.VALID:
            raise DomainError(TicketErrorCode.TICKET_NOT_VALID, f"This ticket is already {t.status}.", f"ticketIds.{i}")
    return sorted(by_id.values(), key=lambda t: t.pk)


def order_refund(
    *,
    staff,
    order_public_id: uuid.UUID,
    reason: str,
    ticket_ids: list[uuid.UUID] | None = None,
    amount: int | None = None,
    override_scanned: bool = False,
) -> RefundResult:
    """Refund (part of) an order through Stripe and void the refunded tickets at once.

    Errors: REASON_REQUIRED, ORDER_NOT_FOUND, ORDER_NOT_REFUNDABLE, TICKET_NOT_FOUND,
    TICKET_NOT_VALID, REFUND_TICKET_SCANNED, REFUND_AMOUNT_INVALID, REFUND_DECLINED,
    PAYMENT_PROVIDER_UNAVAILABLE.
    """
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(E.REASON_REQUIRED, "Say why (kept in the audit trail and shown to no customer).", "reason")
    if ticket_ids is not None:
        ticket_ids = list(dict.fromkeys(ticket_ids))
    with transaction.atomic():
        order = Order.objects.select_for_update(of=("self",)).select_related("festival", "buyer").filter(public_id=order_public_id).first()
        if order is None:
            raise DomainError(OrderErrorCode.ORDER_NOT_FOUND, "Order not found.", "orderId")
        remaining = order.total_amount - order.refunded_amount
        if order.status not in REFUNDABLE:
            raise DomainError(E.ORDER_NOT_REFUNDABLE, f"This order is {order.status}.", "orderId")
        targets = _targets(order, ticket_ids)
        if ticket_ids is None and amount is not None and amount < remaining:
            targets = []  # goodwill: money only
        if ticket_ids is None and not targets and amount is None and remaining == 0:
            raise DomainError(E.ORDER_NOT_REFUNDABLE, "Nothing is left to refund.", "orderId")
        scanned = tickets_admitted([t.pk for t in targets])
        if scanned and not override_scanned:
            raise DomainError(
                E.REFUND_TICKET_SCANNED, f"{len(scanned)} of these tickets were scanned in; set overrideScanned to refund anyway.", "ticketIds"
            )
        if amount is None:
            amount = sum(t.order_line.unit_price for t in targets) if ticket_ids is not None else remaining
            amount = min(amount, remaining)
        if amount < 0 or amount > remaining or (amount == 0 and not targets):
            raise DomainError(E.REFUND_AMOUNT_INVALID, f"Refund between 1 and {remaining} (minor units).", "amount")

        sequence = Refund.objects.filter(order=order).count() + 1
        payment = Payment.objects.filter(provider_payment_id=order.payment_intent_id).first() if order.payment_intent_id else None
        refund = Refund(
            order=order, payment=payment, amount=amount, currency=order.currency, reason=reason[:200], created_by=staff,
            status=Refund.Status.SUCCEEDED,
        )
        if amount > 0:
            if not order.payment_intent_id:
                raise DomainError(E.REFUND_AMOUNT_INVALID, "This order was not paid through Stripe; refund 0.", "amount")
            try:
                info = payment_gateway.get_gateway().create_refund(
                    payment_intent=order.payment_intent_id,
                    amount=amount,
                    idempotency_key=idempotency_key("order-refund", order.public_id, sequence),
                    metadata={
                        "order_id": str(order.public_id),
                        "ticket_ids": ",".join(str(t.public_id) for t in targets),
                        "staff_refund": str(sequence),
                    },
                )
            except PaymentGatewayUnavailable as exc:
                raise DomainError(
                    OrderErrorCode.PAYMENT_PROVIDER_UNAVAILABLE, "Could not reach Stripe; nothing was refunded. Try again.", retry_after=5
                ) from exc
            except (PaymentDeclined, PaymentGatewayError) as exc:
                raise DomainError(E.REFUND_DECLINED, f"Stripe refused the refund: {exc.message}", "orderId") from exc
            refund.provider_refund_id = info.id
            refund.status = Refund.Status.PENDING if info.status == "pending" else (
                Refund.Status.FAILED if info.status in ("failed", "canceled") else Refund.Status.SUCCEEDED
            )
        refund.save()
        voided = list(targets)
        if targets:
            tickets_void(tickets=targets, status=Ticket.Status.REFUNDED, reason=f"refunded: {reason}", refund=refund)
        order.refunded_amount += amount
        left_valid = Ticket.objects.filter(order_line__order=order, status=Ticket.Status.VALID).exists()
        if order.refunded_amount >= order.total_amount or not left_valid:
            set_order_status(order, Order.Status.REFUNDED, source="staff", note=reason, actor=staff)
        else:
            set_order_status(order, Order.Status.PARTIALLY_REFUNDED, source="staff", note=reason, actor=staff)
        order.save(update_fields=["status", "refunded_amount", "updated_at"])
        audit_record(
            action="order.refunded",
            actor=staff,
            order=order,
            reason=reason,
            data={
                "refund_id": str(refund.public_id),
                "amount": amount,
                "currency": order.currency,
                "tickets": [str(t.public_id) for t in targets],
                "override_scanned": bool(scanned),
            },
        )
        for t in targets:
            audit_record(
                action="ticket.refunded",
                actor=staff,
                order=order,
                ticket=t,
                reason=reason,
                data={"status": ["valid", t.status], "scanned": t.pk in scanned},
            )
    return RefundResult(order=order, refund=refund, voided=voided)
