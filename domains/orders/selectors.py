"""Reads of orders. Ownership is a filter on the buyer, never left to the caller."""

from __future__ import annotations

import uuid

from django.db.models import Prefetch, QuerySet

from domains.orders.models import Order, OrderLine, OrderStatusChange, Payment, Refund
from domains.tickets.models import Ticket


def _order_qs() -> QuerySet[Order]:
    return Order.objects.select_related("festival", "buyer").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.select_related("ticket_type__festival").order_by("id")),
        Prefetch("payments", queryset=Payment.objects.order_by("created_at", "id")),
        Prefetch("refunds", queryset=Refund.objects.order_by("created_at", "id")),
        Prefetch("status_history", queryset=OrderStatusChange.objects.order_by("created_at", "id")),
        Prefetch(
            "lines__tickets",
            queryset=Ticket.objects.select_related("ticket_type__festival").order_by("issued_at", "id"),
        ),
    )


# myOrders pages: newest first, ties broken by the public id (a total order for the cursor);
# served by the (buyer, -created_at) index.
BUYER_ORDERS_ORDER_BY = ("-created_at", "-public_id")


def order_queryset_for_buyer(user) -> QuerySet[Order]:
    """The buyer's orders (theirs only) with everything an order view shows prefetched; the
    caller pages it (schema/pagination.py) in BUYER_ORDERS_ORDER_BY order."""
    return _order_qs().filter(buyer=user).order_by(*BUYER_ORDERS_ORDER_BY)


def order_get_for_buyer(user, public_id: uuid.UUID) -> Order | None:
    return _order_qs().filter(buyer=user, public_id=public_id).first()


def order_get(public_id: uuid.UUID) -> Order | None:
    return _order_qs().filter(public_id=public_id).first()


def order_tickets_of_buyer(order: Order) -> list[Ticket]:
    """The tickets of an order loaded with `_order_qs` (no query) that its buyer still holds: a
    ticket transferred away is its new holder's alone (its QR code, PDF link and holder details;
    the order's PDF leaves it out the same way, domains/tickets/documents.py)."""
    return [t for line in order.lines.all() for t in line.tickets.all() if t.holder_id == order.buyer_id]
