"""Capacity counters of a ticket type, changed only by conditional single-statement UPDATEs.

Why not `select_for_update` + read + write: the conditional UPDATE needs no read round trip
while the row lock is held, so the lock (held until commit) is as short as it can be, and it
is the same code on SQLite. The WHERE clause is evaluated again by PostgreSQL after waiting for
a concurrent writer's lock (READ COMMITTED re-check), so the last unit is granted once. The
CHECK constraint `ticket_type_never_oversold` is the backstop.

Callers lock in a fixed order to avoid deadlocks: the order row first, then ticket types by id.
"""

from __future__ import annotations

from django.db.models import F

from domains.tickets.models import TicketType
from domains.tickets.selectors import catalogue_changed


def reserve(ticket_type_id: int, quantity: int) -> bool:
    """Hold `quantity` units if that many are free; False (nothing changed) otherwise."""
    done = bool(
        TicketType.objects.filter(
            pk=ticket_type_id, capacity__gte=F("sold_count") + F("held_count") + quantity
        ).update(held_count=F("held_count") + quantity)
    )
    if done:
        catalogue_changed(ticket_type_id=ticket_type_id)  # the public catalogue's availability
    return done


def reserve_sql(ticket_type_id: int, quantity: int) -> tuple[str, list]:
    """reserve()'s conditional UPDATE as SQL (PostgreSQL) for a caller that puts it first in a
    data-modifying WITH query: ``WITH r AS (<this>) INSERT ... SELECT ... FROM r`` writes its
    rows only when the tickets were taken, in the same statement. Returns the id of the ticket
    type when taken, no row otherwise. The caller announces the change (catalogue_changed).

    Why: run as one autocommit statement, the row lock is held for the statement alone, never
    across a round trip to a Python process that may be waiting for its GIL or a CPU (every
    buyer of the type queues on this row during an on-sale rush; docs/PERFORMANCE.md)."""
    table = TicketType._meta.db_table
    sql = (
        f'UPDATE "{table}" SET "held_count" = "held_count" + %s '
        f'WHERE "id" = %s AND "capacity" >= "sold_count" + "held_count" + %s RETURNING "id"'
    )
    return sql, [quantity, ticket_type_id, quantity]


def release(ticket_type_id: int, quantity: int) -> None:
    """Give held units back to sale (hold expired, payment failed)."""
    TicketType.objects.filter(pk=ticket_type_id).update(held_count=F("held_count") - quantity)
    catalogue_changed(ticket_type_id=ticket_type_id)


def convert(ticket_type_id: int, quantity: int) -> None:
    """Held units became tickets."""
    TicketType.objects.filter(pk=ticket_type_id).update(
        held_count=F("held_count") - quantity, sold_count=F("sold_count") + quantity
    )
    catalogue_changed(ticket_type_id=ticket_type_id)


def take(ticket_type_id: int, quantity: int) -> bool:
    """Sell units without a hold (late payment after expiry, complimentary tickets)."""
    done = bool(
        TicketType.objects.filter(
            pk=ticket_type_id, capacity__gte=F("sold_count") + F("held_count") + quantity
        ).update(sold_count=F("sold_count") + quantity)
    )
    if done:
        catalogue_changed(ticket_type_id=ticket_type_id)
    return done


def give_back(ticket_type_id: int, quantity: int) -> None:
    """Issued units returned to sale (refunded or voided tickets)."""
    TicketType.objects.filter(pk=ticket_type_id).update(sold_count=F("sold_count") - quantity)
    catalogue_changed(ticket_type_id=ticket_type_id)


def comp_take(ticket_type_id: int, quantity: int) -> bool:
    """Issue units from the type's comp allowance; False (nothing changed) when the allowance
    is not set or has fewer than `quantity` left. Sellable capacity is not touched."""
    return bool(
        TicketType.objects.filter(
            pk=ticket_type_id, comp_allowance__isnull=False, comp_allowance__gte=F("comp_issued_count") + quantity
        ).update(comp_issued_count=F("comp_issued_count") + quantity)
    )


def comp_give_back(ticket_type_id: int, quantity: int) -> None:
    """Comp units returned to the allowance (voided or refunded comp tickets)."""
    TicketType.objects.filter(pk=ticket_type_id).update(comp_issued_count=F("comp_issued_count") - quantity)
