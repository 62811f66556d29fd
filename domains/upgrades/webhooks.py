"""Stripe PaymentIntent events of upgrades. Called by the orders webhook dispatcher (inside its
transaction, after the event was stored once) for PaymentIntents whose metadata names an upgrade."""

from __future__ import annotations

import uuid

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
