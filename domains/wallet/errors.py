from enum import StrEnum


class WalletErrorCode(StrEnum):
    # No credentials for this wallet (production without certificates / service account).
    WALLET_NOT_CONFIGURED = "WALLET_NOT_CONFIGURED"
    # The ticket is refunded or void: there is nothing to put in a wallet.
    WALLET_TICKET_NOT_VALID = "WALLET_TICKET_NOT_VALID"
