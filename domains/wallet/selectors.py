from __future__ import annotations

from domains.wallet.models import WalletPass


def wallet_passes_of(*, user, limit: int = 100) -> list[WalletPass]:
    """The passes issued to `user` (any status), newest first."""
    return list(
        WalletPass.objects.filter(owner=user)
        .select_related("ticket", "ticket_type__festival")
        .order_by("-created_at", "-id")[:limit]
    )


def wallet_pass_for_download(*, public_id: str) -> WalletPass | None:
    return (
        WalletPass.objects.select_related("ticket", "ticket_type__festival")
        .filter(public_id=public_id, kind=WalletPass.Kind.APPLE)
        .first()
    )
