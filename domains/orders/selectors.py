"""Reads of orders. Ownership is a filter on the buyer, never left to the caller."""

from __future__ import annotations

import uuid

from django.db.models import Prefetch, QuerySet

from domains.orders.models import Order, OrderLine, OrderStatusChange, Payment, Refund
from domains.tickets.models import Ticket


def _order_qs() -> QuerySet[Order]:
    return Order.objects.select_related("festival", "buyer").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.select_related("ticket_type").order_by("id")),
        Prefetch("payments", queryset=Payment.objects.order_by("created_at", "id")),
        Prefetch("refunds", queryset=Refund.objects.order_by("created_at", "id")),
        Prefetch("status_history", queryset=OrderStatusChange.objects.order_by("created_at", "id")),
        Prefetch(
            "lines__tickets",
            queryset=Ticket.objects.select_related("ticket_type").order_by("issued_at", "id"),
        ),
    )


def order_list_for_buyer(user, *, limit: int = 100) -> list[Order]:
    return list(_order_qs().filter(buyer=user).order_by("-created_at", "-id")[:limit])


def order_get_for_buyer(user, public_id: uuid.UUID) -> Order | None:
    return _order_qs().filter(buyer=user, public_id=public_id).first()


def order_get(public_id: uuid.UUID) -> Order | None:
    return _order_qs().filter(public_id=public_id).first()


def order_tickets(order: Order) -> list[Ticket]:
    """Tickets of an order loaded with `_order_qs` (no query)."""
    return [t for line in order.lines.all() for t in line.tickets.all()]
