"""Error codes of the staff desk (refunds, comps, resends). Kept apart from errors.py, which
the sales area owns; both are exposed through schema/errors.py."""

from enum import StrEnum


class StaffOrderErrorCode(StrEnum):
    ORDER_NOT_REFUNDABLE = "ORDER_NOT_REFUNDABLE"  # not paid, or nothing left to refund
    REFUND_AMOUNT_INVALID = "REFUND_AMOUNT_INVALID"
    REFUND_TICKET_SCANNED = "REFUND_TICKET_SCANNED"  # needs overrideScanned
    REFUND_DECLINED = "REFUND_DECLINED"  # Stripe refused the refund
    REASON_REQUIRED = "REASON_REQUIRED"
    COMP_QUANTITY_INVALID = "COMP_QUANTITY_INVALID"
    COMP_ALLOWANCE_EXHAUSTED = "COMP_ALLOWANCE_EXHAUSTED"  # the type's separate comp allowance is used up
    COMP_RECIPIENT_UNVERIFIED = "COMP_RECIPIENT_UNVERIFIED"  # the address's account never proved it owns it
    ORDER_NOT_FULFILLED = "ORDER_NOT_FULFILLED"  # nothing to resend yet
