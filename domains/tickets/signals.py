"""Drop a festival's cached public catalogue when one of its ticket types is saved or deleted
(capacity counters change through domains/tickets/inventory.py, which says so itself).

`tickets_changed` is sent by the ticket services that change a ticket's holder, type, status or
secret version with QuerySet.update() (domains/tickets/services.py), which sends no post_save:
areas that follow tickets listen (wallet passes: domains/wallet/signals.py, to both; pending
transfers and upgrades of a ticket no longer valid: domains/transfers and domains/upgrades)."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import Signal

from domains.tickets.models import TicketType
from domains.tickets.selectors import catalogue_changed

# Sent inside the writer's transaction, with `ticket_ids` (database ids).
tickets_changed = Signal()


def _ticket_type_changed(sender, instance: TicketType, **kwargs) -> None:
    catalogue_changed(festival_id=instance.festival_id)


def connect() -> None:
    post_save.connect(_ticket_type_changed, sender=TicketType, dispatch_uid="readcache-tickettype-save")
    post_delete.connect(_ticket_type_changed, sender=TicketType, dispatch_uid="readcache-tickettype-delete")
