"""Pending upgrades end with their ticket: see `upgrades_close_for_voided`."""

from __future__ import annotations

from domains.tickets.models import Ticket
from domains.tickets.signals import tickets_changed


def _tickets_changed(sender, ticket_ids: list[int], **kwargs) -> None:
    from domains.upgrades.services import upgrades_close_for_voided

    upgrades_close_for_voided(ticket_ids=ticket_ids)


def connect() -> None:
    tickets_changed.connect(_tickets_changed, sender=Ticket, dispatch_uid="upgrades-tickets-changed")
