from enum import StrEnum


class TransferErrorCode(StrEnum):
    TRANSFER_NOT_FOUND = "TRANSFER_NOT_FOUND"  # unknown id or token, or not yours
    TRANSFER_NOT_PENDING = "TRANSFER_NOT_PENDING"  # already accepted or cancelled
    TRANSFER_EXPIRED = "TRANSFER_EXPIRED"
    TRANSFER_WRONG_RECIPIENT = "TRANSFER_WRONG_RECIPIENT"  # signed in with another email address
    TRANSFER_TO_SELF = "TRANSFER_TO_SELF"
    TRANSFER_ALREADY_PENDING = "TRANSFER_ALREADY_PENDING"  # one pending transfer per ticket
    TRANSFER_DEADLINE_PASSED = "TRANSFER_DEADLINE_PASSED"
    TRANSFER_LIMIT_REACHED = "TRANSFER_LIMIT_REACHED"
    TICKET_ALREADY_SCANNED = "TICKET_ALREADY_SCANNED"  # scanned in at a gate
    TICKET_UPGRADE_PENDING = "TICKET_UPGRADE_PENDING"  # an upgrade is being paid for
