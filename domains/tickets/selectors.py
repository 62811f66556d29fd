"""Reads of the catalogue and of tickets. Ownership is always a filter here."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import IntegerField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from domains.common import readcache
from domains.common.clock import now
from domains.events.selectors import SELLING_STATUSES
from domains.tickets.models import Ticket, TicketType


def live_held_subquery(at=None):
    """Units of a ticket type held by holds that have not expired yet (expired ones count as
    free even before a job released them)."""
    from domains.orders.models import InventoryHold

    at = at or now()
    return Coalesce(
        Subquery(
            InventoryHold.objects.filter(
                ticket_type=OuterRef("pk"), status=InventoryHold.Status.ACTIVE, expires_at__gt=at
            )
            .order_by()
            .values("ticket_type")
            .annotate(total=Sum("quantity"))
            .values("total")[:1],
            output_field=IntegerField(),
        ),
        Value(0),
    )


def with_availability(qs: QuerySet[TicketType]) -> QuerySet[TicketType]:
    return qs.annotate(live_held=live_held_subquery())


def available_of(ticket_type: TicketType) -> int:
    held = getattr(ticket_type, "live_held", None)
    if held is None:
        held = ticket_type.held_count
    return max(0, ticket_type.capacity - ticket_type.sold_count - held)


def ticket_type_list(festival, *, include_inactive: bool = False) -> list[TicketType]:
    qs = TicketType.objects.filter(festival=festival).select_related("festival")
    if not include_inactive:
        qs = qs.filter(is_active=True)
    return list(with_availability(qs).order_by("sort_order", "tier_rank", "name"))


def catalogue_scope(festival_id: int) -> str:
    return f"catalogue:{festival_id}"


def ticket_type_list_public(festival, *, exact: bool = False) -> list[TicketType]:
    """ticket_type_list (active types, live availability), cached per festival until a type or
    its counters change (domains/tickets/signals.py, inventory.py); shared, read-only. What
    visitors see may be up to PUBLIC_READ_MAX_STALE_MS old after a change (a checkout never
    relies on it: it reserves in the database); `exact`: as of the latest change."""
    return readcache.cached(
        catalogue_scope(festival.pk), "ticket_types", lambda: ticket_type_list(festival),
        valid_until=lambda types: _next_hold_expiry([t.pk for t in types]),
        max_stale_ms=0 if exact else settings.PUBLIC_READ_MAX_STALE_MS,
    )


def _next_hold_expiry(ticket_type_ids: list[int]):
    """When the next live hold on these types expires (it then counts as free at once)."""
    from django.db.models import Min

    from domains.orders.models import InventoryHold

    if not ticket_type_ids:
        return None
    return InventoryHold.objects.filter(
        ticket_type_id__in=ticket_type_ids, status=InventoryHold.Status.ACTIVE, expires_at__gt=now()
    ).aggregate(at=Min("expires_at"))["at"]


_festival_of_type: dict[int, int] = {}


def festival_id_of_type(ticket_type_id: int) -> int | None:
    """A ticket type's festival never changes: remembered per process."""
    festival_id = _festival_of_type.get(ticket_type_id)
    if festival_id is None:
        festival_id = TicketType.objects.filter(pk=ticket_type_id).values_list("festival_id", flat=True).first()
        if festival_id is not None:
            _festival_of_type[ticket_type_id] = festival_id
    return festival_id


def catalogue_changed(*, ticket_type_id: int | None = None, festival_id: int | None = None) -> None:
    """Availability or types of a festival changed: drop its cached catalogue after commit."""
    if festival_id is not None:
        readcache.changed(catalogue_scope(festival_id))
    elif ticket_type_id is not None:
        # Looked up after the commit, outside the writer's transaction (and its lock).
        transaction.on_commit(lambda: catalogue_changed(festival_id=festival_id_of_type(ticket_type_id)))


def is_on_sale(ticket_type: TicketType, at=None) -> bool:
    """Active, inside its sale window, and its festival is selling (events.selectors
    SELLING_STATUSES). `ticket_type.festival` is read: load it with the type."""
    at = at or now()
    if not ticket_type.is_active or ticket_type.festival.status not in SELLING_STATUSES:
        return False
    if ticket_type.sale_starts_at and at < ticket_type.sale_starts_at:
        return False
    if ticket_type.sale_ends_at and at >= ticket_type.sale_ends_at:
        return False
    return True


def _ticket_qs() -> QuerySet[Ticket]:
    return Ticket.objects.select_related("ticket_type", "ticket_type__festival", "holder", "order_line__order")


def ticket_list_for_holder(user, *, include_inactive: bool = True) -> list[Ticket]:
    qs = _ticket_qs().filter(holder=user)
    if not include_inactive:
        qs = qs.filter(status=Ticket.Status.VALID)
    return list(qs.order_by("ticket_type__festival__starts_on", "issued_at", "id"))


def ticket_get_for_holder(user, public_id: uuid.UUID) -> Ticket | None:
    return _ticket_qs().filter(holder=user, public_id=public_id).first()


def ticket_get(public_id: uuid.UUID) -> Ticket | None:
    return _ticket_qs().filter(public_id=public_id).first()
