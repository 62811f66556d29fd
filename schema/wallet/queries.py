from __future__ import annotations

import strawberry
import strawberry_django
from strawberry.types import Info

from domains.wallet.selectors import wallet_passes_of
from schema.context import require_viewer
from schema.permissions import authenticated
from schema.wallet.types import WalletPassType


@strawberry.type
class WalletQuery:
    @strawberry_django.field(
        extensions=authenticated(),
        description="Wallet passes issued to the signed-in user, newest first (at most 100), any status.",
    )
    def my_wallet_passes(self, info: Info) -> list[WalletPassType]:
        return [WalletPassType.from_model(p) for p in wallet_passes_of(user=require_viewer(info).user)]
