"""A refund of an upgrade's payment, reported by Stripe (`charge.refunded`).

Rule: record the money, never take the upgrade away automatically, and flag it for staff.

* Completed upgrade: `refunded_amount` follows Stripe, `refund_needs_review` is set, the ticket
  keeps its new tier and its QR code. Why not revert: a refund made in Stripe's dashboard does
  not say why (goodwill for a closed VIP area, a duplicate charge, a customer who wants the old
  tier back); reverting needs a unit of the old tier that may be sold out, would change the QR
  code of a ticket that may already be inside the festival, and cannot be undone by the
  attendee. Keeping the tier and flagging it loses nothing: staff decide with the facts
  (staffOrder shows the upgrade's `refunded` and `refundNeedsReview`; the audit trail has
  `upgrade.refunded`), and can still refund or void the ticket.
* Upgrade not applied yet (pending, expired, failed): the money went back before we granted
  anything, so we never grant it: the upgrade goes to needs_attention (its held unit returns to
  sale) and a success event arriving afterwards no longer applies it.
* Stripe's `amount_refunded` is cumulative: an event is applied only when it reports more than
  recorded, so replays and out-of-order deliveries change nothing.
"""

from __future__ import annotations

import logging

from django.db import transaction

from domains.audit.services import audit_record
from domains.upgrades.models import Upgrade
from domains.upgrades.services import _close, _lock_upgrade

log = logging.getLogger(__name__)


def upgrade_record_refund(*, upgrade_id: int, payment_intent_id: str, amount_refunded: int, currency: str) -> str:
    """Record that `amount_refunded` (cumulative) of the upgrade's payment was refunded.

    Returns recorded | recorded_not_applied | already_recorded | foreign_payment | currency_mismatch.
    """
    with transaction.atomic():
        up = _lock_upgrade(upgrade_id)
        if payment_intent_id != up.payment_intent_id:
            return "foreign_payment"
        if currency.upper() != up.currency.upper():
            return "currency_mismatch"
        if amount_refunded <= up.refunded_amount:
            return "already_recorded"
        previous = up.refunded_amount
        up.refunded_amount = amount_refunded
        up.refund_needs_review = True
        up.save(update_fields=["refunded_amount", "refund_needs_review"])
        outcome = "recorded"
        if up.status in (Upgrade.Status.PENDING, Upgrade.Status.EXPIRED, Upgrade.Status.FAILED):
            _close(up, Upgrade.Status.NEEDS_ATTENTION, "payment refunded before the upgrade was applied")
            outcome = "recorded_not_applied"
        audit_record(
            action="upgrade.refunded",
            ticket=up.ticket,
            reason="payment refunded at Stripe",
            data={
                "upgrade_id": str(up.public_id),
                "refunded": [previous, amount_refunded],
                "amount": up.amount,
                "currency": up.currency,
                "status": up.status,
                "ticket_type": (up.to_type if up.status == Upgrade.Status.COMPLETED else up.from_type).name,
            },
        )
    log.warning("upgrade payment refunded; flagged for staff review", extra={"upgrade": str(up.public_id), "outcome": outcome})
    return outcome
