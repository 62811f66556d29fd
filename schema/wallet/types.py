from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum

import strawberry

from domains.common.errors import DomainError
from domains.wallet import render
from domains.wallet.models import WalletPass
from schema.errors import Error

WalletPassKind = strawberry.enum(Enum("WalletPassKind", {k.name: k.value for k in WalletPass.Kind}),
                                 description="Which wallet the pass is for.")
WalletPassStatus = strawberry.enum(
    Enum("WalletPassStatus", {s.name: s.value for s in WalletPass.Status}),
    description="ACTIVE passes scan; SUPERSEDED (ticket transferred or re-issued) and VOID (refunded) "
    "passes show as void on the phone.",
)


@strawberry.type(name="WalletPass")
class WalletPassType:
    id: uuid.UUID
    kind: WalletPassKind
    status: WalletPassStatus
    ticket_id: uuid.UUID
    serial_number: str
    holder_name: str
    ticket_type_name: str
    created_at: datetime
    last_updated: datetime
    download_url: str | None = strawberry.field(
        default=None, description="Apple: a signed link to the .pkpass, valid for a limited time.")
    save_url: str | None = strawberry.field(
        default=None, description="Google: the \"Add to Google Wallet\" link (only while ACTIVE).")

    @classmethod
    def from_model(cls, wallet_pass: WalletPass) -> WalletPassType:
        download_url = save_url = None
        if wallet_pass.kind == WalletPass.Kind.APPLE:
            download_url = render.pkpass_download_url(wallet_pass)
        elif wallet_pass.is_active:
            try:
                save_url = render.google_save_url(wallet_pass)
            except DomainError:  # credentials removed since: the list still answers
                save_url = None
        return cls(
            id=wallet_pass.public_id,
            kind=WalletPassKind(wallet_pass.kind),
            status=WalletPassStatus(wallet_pass.status),
            ticket_id=wallet_pass.ticket.public_id,
            serial_number=wallet_pass.serial_number,
            holder_name=wallet_pass.holder_name,
            ticket_type_name=wallet_pass.ticket_type_name,
            created_at=wallet_pass.created_at,
            last_updated=wallet_pass.last_updated,
            download_url=download_url,
            save_url=save_url,
        )


@strawberry.type
class WalletPassPayload:
    wallet_pass: WalletPassType | None = None
    errors: list[Error] = strawberry.field(default_factory=list)
