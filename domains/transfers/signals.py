"""Pending offers end with their ticket: see `transfers_close_for_voided`."""

from __future__ import annotations

from domains.tickets.models import Ticket
from domains.tickets.signals import tickets_changed


def _tickets_changed(sender, ticket_ids: list[int], **kwargs) -> None:
    from domains.transfers.services import transfers_close_for_voided

    transfers_close_for_voided(ticket_ids=ticket_ids)


def connect() -> None:
    tickets_changed.connect(_tickets_changed, sender=Ticket, dispatch_uid="transfers-tickets-changed")
