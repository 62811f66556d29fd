"""Reads of upgrades. A user sees the upgrades they asked for (and paid)."""

from __future__ import annotations

from domains.upgrades.models import Upgrade


def _qs():
    return Upgrade.objects.select_related("ticket", "from_type", "to_type")


def upgrade_list_for_requester(user, *, limit: int = 200) -> list[Upgrade]:
    """The upgrades `user` asked for, on tickets they hold or held. Not every upgrade of the
    tickets they hold: those a previous holder asked for are that person's payments (amount,
    Stripe PaymentIntent, refunds) and were shown to whoever the ticket was transferred to."""
    return list(_qs().filter(requested_by=user).order_by("-created_at", "-id")[:limit])


def upgrades_for_tickets(ticket_ids: list[int]) -> list[Upgrade]:
    return list(_qs().filter(ticket_id__in=ticket_ids).order_by("created_at", "id"))
