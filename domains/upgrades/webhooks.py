"""Stripe PaymentIntent events of upgrades. Called by the orders webhook dispatcher (inside its
transaction, after the event was stored once) for PaymentIntents whose metadata names an upgrade."""

from __future__ import annotations

import uuid

from domains.payments.event_shapes import expanded_id
from domains.payments.gateway import PaymentIntentInfo
from domains.upgrades import services
from domains.upgrades.models import Upgrade


def is_upgrade_payment(pi: PaymentIntentInfo) -> bool:
    return bool((pi.metadata or {}).get("upgrade_id"))


def upgrade_payment_event(event_type: str, pi: PaymentIntentInfo, obj: dict) -> tuple[str, str]:
    """(webhook outcome, note) for `payment_intent.succeeded` / `payment_intent.payment_failed`."""
    up = Upgrade.objects.filter(payment_intent_id=pi.id).first()
    if up is None:
        try:
            up = Upgrade.objects.filter(public_id=uuid.UUID(pi.metadata["upgrade_id"])).first()
        except (KeyError, ValueError):
            up = None
    if up is None:
        return "needs_attention", f"no upgrade for payment intent {pi.id}"
    if event_type == "payment_intent.succeeded":
        result = services.upgrade_apply(upgrade_id=up.pk, payment=pi, source="webhook")
        if result.applied:
            return "processed", f"upgrade {result.outcome}"
        if result.outcome == "already_applied":
            return "ignored", "upgrade already_applied"
        return "needs_attention", f"upgrade {result.outcome}"
    outcome = services.upgrade_payment_failed(upgrade_id=up.pk, payment=pi)
    return ("processed" if outcome == "failed" else "ignored"), f"upgrade {outcome}"


def upgrade_refund_event(obj: dict) -> tuple[str, str] | None:
    """(webhook outcome, note) for a `charge.refunded` of an upgrade's payment; None when the
    charge belongs to no upgrade (then it is an order's). See domains/upgrades/refunds.py."""
    from domains.upgrades.refunds import upgrade_record_refund

    pi_id = expanded_id(obj.get("payment_intent"))
    up = Upgrade.objects.filter(payment_intent_id=pi_id).first() if pi_id else None
    if up is None:
        return None
    amount_refunded = obj.get("amount_refunded")
    if amount_refunded is None:  # older payloads: the refunds listed on the charge
        amount_refunded = sum(int(r.get("amount") or 0) for r in ((obj.get("refunds") or {}).get("data") or []) if isinstance(r, dict))
    outcome = upgrade_record_refund(
        upgrade_id=up.pk, payment_intent_id=pi_id, amount_refunded=int(amount_refunded), currency=str(obj.get("currency") or "")
    )
    if outcome in ("recorded", "recorded_not_applied"):
        return "processed", f"upgrade refund {outcome}; flagged for staff review"
    if outcome == "already_recorded":
        return "ignored", "upgrade refund already_recorded"
    return "needs_attention", f"upgrade refund {outcome}"
