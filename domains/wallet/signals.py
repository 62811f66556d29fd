"""Passes follow the ticket, whoever changes it.

Transfers, refunds and upgrades live in other areas. They may call
`wallet_passes_ticket_changed` themselves, but a forgotten call would leave a transferred
ticket's old code alive on the previous holder's phone, so we also listen to Ticket saves.
Why a signal here, when the styleguide keeps business rules out of signals: the rule itself
stays in the service (idempotent, so an explicit call plus the signal is harmless); the
receiver only guarantees that *every* code path that saves a Ticket triggers it, without the
wallet area editing, or depending on, the ticket-side modules.

Why post_init snapshots rather than a pre_save query: the values the instance was loaded with
are known for free, so the common saves (nothing relevant changed) cost no query at all; a
pre_save re-read would add one SELECT to every Ticket save in the system. A field deferred at
load time counts as changed (we cannot know), which merely runs the idempotent check.
`QuerySet.update()` and raw SQL send no post_save. The ticket services that change a ticket
that way (transfers, upgrades, refunds and voids: domains/tickets/services.py) send
`tickets_changed` instead, which we also listen to; other such code must call
`wallet_passes_ticket_changed` itself.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_init, post_save

from domains.tickets.models import Ticket
from domains.tickets.signals import tickets_changed

WATCHED = ("secret_version", "status", "holder_id", "ticket_type_id")
_SNAPSHOT = "_wallet_watched_values"
_UNKNOWN = object()


def _snapshot(instance: Ticket) -> tuple:
    # __dict__, not getattr: reading a deferred field here would cost a query per instance.
    return tuple(instance.__dict__.get(name, _UNKNOWN) for name in WATCHED)


def remember_loaded_values(sender, instance: Ticket, **kwargs) -> None:
    setattr(instance, _SNAPSHOT, _snapshot(instance))


def ticket_saved(sender, instance: Ticket, created: bool, raw: bool = False, **kwargs) -> None:
    before, after = getattr(instance, _SNAPSHOT, None), _snapshot(instance)
    # The next save compares with these values once they are in the database: after a
    # rollback the instance must still count as changed against what was loaded.
    transaction.on_commit(lambda: setattr(instance, _SNAPSHOT, after))
    if created or raw or before is None:
        return  # a new ticket has no passes; fixtures loading raw rows are not changes
    if before == after and _UNKNOWN not in before:
        return
    from domains.wallet.services import wallet_passes_ticket_changed

    wallet_passes_ticket_changed(ticket_id=instance.pk)


def tickets_updated(sender, ticket_ids: list[int], **kwargs) -> None:
    from domains.wallet.models import WalletPass
    from domains.wallet.services import wallet_passes_ticket_changed

    # One query for the tickets that have a live pass at all (most have none), not one per
    # ticket: a whole order's refund voids every ticket of it.
    with_passes = WalletPass.objects.filter(ticket_id__in=ticket_ids, status=WalletPass.Status.ACTIVE)
    for ticket_id in sorted(set(with_passes.values_list("ticket_id", flat=True))):
        wallet_passes_ticket_changed(ticket_id=ticket_id)


def connect() -> None:
    post_init.connect(remember_loaded_values, sender=Ticket, dispatch_uid="wallet-ticket-post-init")
    post_save.connect(ticket_saved, sender=Ticket, dispatch_uid="wallet-ticket-post-save")
    tickets_changed.connect(tickets_updated, sender=Ticket, dispatch_uid="wallet-tickets-changed")
