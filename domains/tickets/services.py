"""Writes on tickets. Callers hold the order row lock (or their own) and the transaction."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from domains.common.clock import now
from domains.tickets import inventory
from domains.tickets.models import Ticket
from domains.tickets.signals import tickets_changed


def tickets_issue(*, ticket_type, holder, quantity: int, order_line=None, from_comp_allowance: bool = False) -> list[Ticket]:
    """Create `quantity` valid tickets; the caller already accounted the capacity (or, with
    `from_comp_allowance`, the type's comp allowance)."""
    tickets = [
        Ticket(ticket_type=ticket_type, holder=holder, order_line=order_line, from_comp_allowance=from_comp_allowance)
        for _ in range(quantity)
    ]
    Ticket.objects.bulk_create(tickets)
    return tickets


def ticket_bump_secret(*, ticket: Ticket) -> Ticket:
    """Invalidate every QR code issued so far for this ticket (transfer, void, reissue)."""
    Ticket.objects.filter(pk=ticket.pk).update(secret_version=F("secret_version") + 1, updated_at=now())
    ticket.refresh_from_db(fields=["secret_version", "updated_at"])
    _documents_changed(ticket)
    # Transfers and upgrades change the holder or type with update() and then bump: this is
    # where their wallet passes hear of it (update() sends no post_save).
    tickets_changed.send(sender=Ticket, ticket_ids=[ticket.pk])
    return ticket


def tickets_void(
    *, tickets: list[Ticket], status: str = Ticket.Status.VOID, reason: str = "", refund=None, return_to_sale: bool = True
) -> int:
    """Void (or mark refunded) valid tickets: their QR codes stop working (secret bumped) and,
    by default, their capacity goes back on sale. Already-void tickets are skipped."""
    assert status in (Ticket.Status.VOID, Ticket.Status.REFUNDED)
    ids = [t.pk for t in tickets]
    with transaction.atomic():
        locked = list(Ticket.objects.select_for_update().filter(pk__in=ids, status=Ticket.Status.VALID).order_by("pk"))
        if not locked:
            return 0
        Ticket.objects.filter(pk__in=[t.pk for t in locked]).update(
            status=status,
            secret_version=F("secret_version") + 1,
            voided_at=now(),
            void_reason=reason[:200],
            refund=refund,
            updated_at=now(),
        )
        if return_to_sale:
            # Each unit goes back to the pool it came from: sale, or the type's comp allowance.
            per_pool: dict[tuple[int, bool], int] = {}
            for t in locked:
                key = (t.ticket_type_id, t.from_comp_allowance)
                per_pool[key] = per_pool.get(key, 0) + 1
            for (type_id, from_allowance), count in sorted(per_pool.items()):
                if from_allowance:
                    inventory.comp_give_back(type_id, count)
                else:
                    inventory.give_back(type_id, count)
        # Refunded or void (update() sends no post_save): their wallet passes void, their
        # pending transfers and upgrades end (tickets/signals.py, after_tickets_changed).
        tickets_changed.send(sender=Ticket, ticket_ids=[t.pk for t in locked])
    for t in tickets:
        t.refresh_from_db()
    return len(locked)


def _documents_changed(ticket: Ticket) -> None:
    """Cached ticket PDFs are keyed by secret version, so a bump makes them stale by itself."""
