"""Pending offers end with their ticket: see `transfers_close_for_voided`."""

from __future__ import annotations

from django.db import transaction

from domains.tickets.models import Ticket
from domains.tickets.signals import tickets_changed


def _tickets_changed(sender, ticket_ids: list[int], **kwargs) -> None:
    from domains.transfers.services import transfers_close_for_voided

    # Once the void has committed, in a transaction of its own: inside the void it would take
    # rows after the void's ticket types, against the lock order. Should it fail, the pending
    # offers of the invalid tickets stay as before this existed (nobody can complete them,
    # and their holds run out).
    ids = list(ticket_ids)
    transaction.on_commit(lambda: transfers_close_for_voided(ticket_ids=ids), robust=True)


def connect() -> None:
    tickets_changed.connect(_tickets_changed, sender=Ticket, dispatch_uid="transfers-tickets-changed")
