"""Reads of the staff order desk: search, filter, sort (paginated by schema/pagination.py),
and one order with its whole history.

Search (`q`), each branch backed by an index (plans in tests/lifecycle/test_staff_desk_plan.py):
* an order number (FT-XXXX-XXXX)        -> orders_order.number (unique btree)
* a UUID                                -> order public id, or the order of the ticket with
                                           that public id (both unique btrees)
* anything else (email, name, part)     -> buyers whose email or full name contains it,
                                           case-insensitively: pg_trgm GIN indexes on
                                           UPPER(email) and UPPER(full_name) (migration
                                           audit 0002), then orders by buyer (btree)
Filters: status, ticket type (order lines by ticket type), created date range, disputed (an
open dispute, or any: the disputes' order ids, a small table). Sort:
created_at desc/asc, ties broken by public_id; index (created_at, public_id).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from domains.accounts.models import User
from domains.orders.models import Dispute, Order, OrderLine
from domains.tickets.models import Ticket

ORDER_NUMBER = re.compile(r"^FT-[A-Z0-9]{4}-[A-Z0-9]{4}$")
# staffOrders' `disputed` filter: which disputes put an order in the list.
DISPUTED = {"OPEN": Dispute.OPEN_STATUSES, "ANY": None}
SORTS = {"CREATED_DESC": ("-created_at", "-public_id"), "CREATED_ASC": ("created_at", "public_id")}


@dataclass(frozen=True)
class StaffOrderFilter:
    q: str | None = None
    status: str | None = None
    ticket_type_id: uuid.UUID | None = None
    created_from: dt.datetime | None = None
    created_to: dt.datetime | None = None
    disputed: str | None = None  # a key of DISPUTED


def _search(qs: QuerySet[Order], q: str) -> QuerySet[Order]:
    text = q.strip()
    if not text:
        return qs
    if ORDER_NUMBER.match(text.upper()):
        return qs.filter(number=text.upper())
    try:
        as_uuid = uuid.UUID(text)
    except ValueError:
        as_uuid = None
    if as_uuid is not None:
        by_ticket = Ticket.objects.filter(public_id=as_uuid).values("order_line__order_id")
        return qs.filter(Q(public_id=as_uuid) | Q(pk__in=by_ticket))
    buyers = User.objects.filter(Q(email__icontains=text) | Q(full_name__icontains=text)).values("pk")
    return qs.filter(buyer_id__in=buyers)


def staff_order_search(f: StaffOrderFilter) -> QuerySet[Order]:
    """Orders matching the filter, with what a list row shows loaded in the same query."""
    tickets = (
        Ticket.objects.filter(order_line__order_id=OuterRef("pk")).order_by().values("order_line__order_id").annotate(n=Count("pk")).values("n")[:1]
    )
    # A correlated count evaluated for the page's rows only (count() drops unused annotations).
    qs = Order.objects.select_related("buyer", "festival").annotate(
        ticket_count=Coalesce(Subquery(tickets, output_field=IntegerField()), Value(0))
    )
    if f.q:
        qs = _search(qs, f.q)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.ticket_type_id:
        qs = qs.filter(pk__in=OrderLine.objects.filter(ticket_type__public_id=f.ticket_type_id).values("order_id"))
    if f.created_from:
        qs = qs.filter(created_at__gte=f.created_from)
    if f.created_to:
        qs = qs.filter(created_at__lt=f.created_to)
    if f.disputed:
        disputes = Dispute.objects.filter(order__isnull=False)
        if DISPUTED[f.disputed] is not None:
            disputes = disputes.filter(status__in=DISPUTED[f.disputed])
        qs = qs.filter(pk__in=disputes.values("order_id"))
    return qs


def staff_order_get(public_id: uuid.UUID) -> Order | None:
    from domains.orders.selectors import order_get

    return order_get(public_id)


def staff_order_tickets(order: Order) -> list[Ticket]:
    """The order's tickets with their current holders (who may not be the buyer any more)."""
    return list(
        Ticket.objects.filter(order_line__order=order).select_related("ticket_type", "holder", "refund").order_by("issued_at", "id")
    )


def staff_order_disputes(order: Order) -> list[Dispute]:
    """The Stripe disputes of the order's payments and of upgrades of its tickets, oldest first."""
    return list(Dispute.objects.filter(order=order).select_related("upgrade").order_by("recorded_at", "id"))
