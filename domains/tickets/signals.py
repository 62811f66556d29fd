"""Drop a festival's cached public catalogue when one of its ticket types is saved or deleted
(capacity counters change through domains/tickets/inventory.py, which says so itself).

`tickets_changed` is sent by the ticket services that change a ticket's holder, type, status or
secret version with QuerySet.update() (domains/tickets/services.py), which sends no post_save:
areas that follow tickets listen (wallet passes: domains/wallet/signals.py, to both; pending
transfers and upgrades of a ticket no longer valid, after the commit: `after_tickets_changed`)."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import Signal

from domains.tickets.models import Ticket, TicketType
from domains.tickets.selectors import catalogue_changed

# Sent inside the writer's transaction, with `ticket_ids` (database ids).
tickets_changed = Signal()


def after_tickets_changed(work: Callable[..., object], *, dispatch_uid: str) -> None:
    """Run `work(ticket_ids=...)` once the writer's transaction has committed, in a transaction
    of its own (for work that would take rows after the writer's, against the lock order). A
    failure is logged, never the writer's (`robust`): the work must leave things as they were
    without it."""

    def receiver(sender, ticket_ids: list[int], **kwargs) -> None:
        ids = list(ticket_ids)
        transaction.on_commit(lambda: work(ticket_ids=ids), robust=True)

    tickets_changed.connect(receiver, sender=Ticket, dispatch_uid=dispatch_uid, weak=False)


def _ticket_type_changed(sender, instance: TicketType, **kwargs) -> None:
    catalogue_changed(festival_id=instance.festival_id)


def connect() -> None:
    post_save.connect(_ticket_type_changed, sender=TicketType, dispatch_uid="readcache-tickettype-save")
    post_delete.connect(_ticket_type_changed, sender=TicketType, dispatch_uid="readcache-tickettype-delete")
