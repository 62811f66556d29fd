"""Reads of upgrades. A user sees the upgrades of the tickets they hold."""

from __future__ import annotations

from domains.upgrades.models import Upgrade


def _qs():
    return Upgrade.objects.select_related("ticket", "from_type", "to_type")


def upgrade_list_for_holder(user, *, limit: int = 200) -> list[Upgrade]:
    return list(_qs().filter(ticket__holder=user).order_by("-created_at", "-id")[:limit])


def upgrades_for_tickets(ticket_ids: list[int]) -> list[Upgrade]:
    return list(_qs().filter(ticket_id__in=ticket_ids).order_by("created_at", "id"))
