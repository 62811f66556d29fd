"""Reads of transfers. A user sees the transfers they sent and those addressed to them."""

from __future__ import annotations

from django.db.models import Q

from domains.accounts.models import normalize_email
from domains.transfers.models import Transfer


def transfer_list_for_user(user, *, limit: int = 200) -> list[Transfer]:
    email = normalize_email(user.email)
    return list(
        Transfer.objects.filter(Q(from_user=user) | Q(to_email=email) | Q(to_user=user))
        .select_related("ticket__ticket_type__festival", "from_user", "to_user")
        .order_by("-created_at", "-id")[:limit]
    )


def transfers_for_tickets(ticket_ids: list[int]) -> list[Transfer]:
    return list(Transfer.objects.filter(ticket_id__in=ticket_ids).select_related("ticket__ticket_type__festival", "from_user", "to_user").order_by("created_at", "id"))
