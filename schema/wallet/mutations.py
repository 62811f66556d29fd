from __future__ import annotations

import uuid

import strawberry
import strawberry_django
from strawberry.types import Info

from domains.wallet import services
from schema.context import require_viewer
from schema.errors import payload_errors
from schema.permissions import authenticated
from schema.wallet.types import WalletPassPayload, WalletPassType


@strawberry.type
class WalletMutation:
    @strawberry_django.mutation(
        extensions=authenticated(),
        description="An Apple Wallet pass for one of your valid tickets, with a signed, expiring "
        "download link (.pkpass). Asking again returns the same pass until the ticket changes.",
    )
    @payload_errors(WalletPassPayload)
    def create_apple_wallet_pass(self, info: Info, ticket_id: uuid.UUID) -> WalletPassPayload:
        wallet_pass = services.wallet_pass_create_apple(user=require_viewer(info).user, ticket_id=ticket_id)
        return WalletPassPayload(wallet_pass=WalletPassType.from_model(wallet_pass))

    @strawberry_django.mutation(
        extensions=authenticated(),
        description="A Google Wallet pass for one of your valid tickets, as an \"Add to Google Wallet\" "
        "link. Asking again returns the same pass until the ticket changes.",
    )
    @payload_errors(WalletPassPayload)
    def create_google_wallet_pass(self, info: Info, ticket_id: uuid.UUID) -> WalletPassPayload:
        wallet_pass = services.wallet_pass_create_google(user=require_viewer(info).user, ticket_id=ticket_id)
        return WalletPassPayload(wallet_pass=WalletPassType.from_model(wallet_pass))
