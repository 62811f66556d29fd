"""Staff resends of an order's tickets and invoice, through the workers, rate limited per order.

Tickets go to whoever holds them now (one email per holder, with only their tickets):
a ticket transferred away is never sent back to the buyer. The invoice goes to the buyer.
Each request gets an id (its audit entry); the worker's email key uses it, so a redelivered
job sends one email, and two requests send two.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import transaction

from domains.audit.services import audit_record
from domains.common.errors import DomainError
from domains.common.ratelimit import enforce
from domains.notifications.services import email_enqueue
from domains.orders.errors import OrderErrorCode
from domains.orders.models import Order
from domains.orders.staff_errors import StaffOrderErrorCode as E
from domains.tickets.documents import ticket_document_ref
from domains.tickets.models import Ticket

KINDS = ("tickets", "invoice")


def _limits() -> tuple[int, int]:
    return int(getattr(settings, "RESEND_LIMIT_PER_ORDER", 3)), int(getattr(settings, "RESEND_WINDOW_SECONDS", 3600))


def order_resend(*, staff, order_public_id: uuid.UUID, kind: str, reason: str = "") -> Order:
    """Queue a resend of the order's tickets or invoice.

    Errors: ORDER_NOT_FOUND, ORDER_NOT_FULFILLED, RATE_LIMITED (RESEND_LIMIT_PER_ORDER per
    RESEND_WINDOW_SECONDS for each order and kind).
    """
    assert kind in KINDS
    order = Order.objects.filter(public_id=order_public_id).first()
    if order is None:
        raise DomainError(OrderErrorCode.ORDER_NOT_FOUND, "Order not found.", "orderId")
    if order.fulfilled_at is None:
        raise DomainError(E.ORDER_NOT_FULFILLED, "This order has no tickets or invoice yet.", "orderId")
    if kind == "invoice" and order.invoice_number is None:
        raise DomainError(E.ORDER_NOT_FULFILLED, "This order has no invoice (complimentary).", "orderId")
    limit, window = _limits()
    enforce(f"resend:{kind}:{order.pk}", limit=limit, window=window, message="This order was resent recently; try again later.")
    with transaction.atomic():
        entry = audit_record(action=f"order.resend_{kind}", actor=staff, order=order, reason=reason)
        transaction.on_commit(lambda: _enqueue(order.pk, kind, str(entry.public_id)))
    return order


def _enqueue(order_id: int, kind: str, request_id: str) -> None:
    from workers.lifecycle import resend_order_documents

    resend_order_documents.send(order_id, kind, request_id)


def order_resend_deliver(*, order_id: int, kind: str, request_id: str) -> int:
    """Worker side: enqueue the emails of one resend request (idempotent per request id)."""
    order = Order.objects.select_related("buyer", "festival").filter(pk=order_id).first()
    if order is None:
        return 0
    sent = 0
    with transaction.atomic():
        if kind == "invoice":
            email_enqueue(
                key=f"resend-invoice:{request_id}",
                to_email=order.buyer.email,
                template="resend_invoice",
                context={"order_number": order.number, "festival_name": order.festival.name, "invoice": order.invoice_label},
                attachments=[{"kind": "invoice_pdf", "id": str(order.public_id)}],
            )
            return 1
        tickets = list(
            Ticket.objects.filter(order_line__order=order, status=Ticket.Status.VALID).select_related("holder").order_by("holder_id", "pk")
        )
        by_holder: dict[int, list[Ticket]] = {}
        for t in tickets:
            by_holder.setdefault(t.holder_id, []).append(t)
        for holder_id, held in by_holder.items():
            holder = held[0].holder
            email_enqueue(
                key=f"resend-tickets:{request_id}:{holder_id}",
                to_email=holder.email,
                template="resend_tickets",
                context={"order_number": order.number, "festival_name": order.festival.name, "count": len(held)},
                attachments=[{"kind": "single_ticket_pdf", "id": ticket_document_ref(t)} for t in held],
            )
            sent += 1
    return sent
