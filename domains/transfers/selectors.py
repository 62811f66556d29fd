"""Reads of transfers. A user sees the transfers they sent and those addressed to them."""

from __future__ import annotations

from django.db.models import Q

from domains.accounts.models import normalize_email
from domains.transfers.models import Transfer


def transfers_of_user_q(user) -> Q:
    """The transfers a user sent, accepted, or that were offered to their address once they
    confirmed it. Anyone may register an address and sign in before confirming it (see
    domains/orders/comps.py): until then the offers to it are not shown to that account (the
    emailed token still lets it accept; holding it proves the mailbox)."""
    q = Q(from_user=user) | Q(to_user=user)
    if user.email_verified_at is not None:
        q |= Q(to_email=normalize_email(user.email))
    return q


def transfer_list_for_user(user, *, limit: int = 200) -> list[Transfer]:
    return list(
        Transfer.objects.filter(transfers_of_user_q(user))
        .select_related("ticket__ticket_type__festival", "from_user", "to_user")
        .order_by("-created_at", "-id")[:limit]
    )


def transfers_for_tickets(ticket_ids: list[int]) -> list[Transfer]:
    return list(Transfer.objects.filter(ticket_id__in=ticket_ids).select_related("ticket__ticket_type__festival", "from_user", "to_user").order_by("created_at", "id"))
