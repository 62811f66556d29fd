"""Pending upgrades end with their ticket: see `upgrades_close_for_voided`."""

from __future__ import annotations

from django.db import transaction

from domains.tickets.models import Ticket
from domains.tickets.signals import tickets_changed


def _tickets_changed(sender, ticket_ids: list[int], **kwargs) -> None:
    from domains.upgrades.services import upgrades_close_for_voided

    # Once the void has committed, in a transaction of its own: inside the void it would take
    # rows after the void's ticket types, against the lock order. Should it fail, the pending
    # upgrades of the invalid tickets stay as before this existed (nobody can complete them,
    # and their holds run out).
    ids = list(ticket_ids)
    transaction.on_commit(lambda: upgrades_close_for_voided(ticket_ids=ids), robust=True)


def connect() -> None:
    tickets_changed.connect(_tickets_changed, sender=Ticket, dispatch_uid="upgrades-tickets-changed")
