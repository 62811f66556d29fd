"""Upgrades of a ticket to a higher tier.

    pending --(difference paid: webhook or confirmUpgrade)--> completed
       |--(payment failed / hold expired)--> failed | expired
       `--(paid but cannot be applied: ticket refunded, capacity gone)--> needs_attention
       `--(payment refunded before it was applied)--> needs_attention

A refund of the upgrade's payment (charge.refunded) is recorded in `refunded_amount` and sets
`refund_needs_review`; a completed upgrade stays completed and the ticket keeps its new tier
(domains/upgrades/refunds.py says why). Staff clear the flag once they have decided.

While pending, one unit of the target type is held (`TicketType.held_count`, taken with the
same conditional UPDATE as checkout holds). On completion it becomes sold, and the unit of
the old type is given back to sale. At most one pending upgrade per ticket.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Upgrade(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        COMPLETED = "completed"
        FAILED = "failed"
        EXPIRED = "expired"
        NEEDS_ATTENTION = "needs_attention"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="upgrades")
    from_type = models.ForeignKey("tickets.TicketType", on_delete=models.PROTECT, related_name="+")
    to_type = models.ForeignKey("tickets.TicketType", on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Staff who processed it (processUpgrade), with their reason.
    processed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    reason = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # Price difference in minor units (0: nothing to pay).
    amount = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    payment_intent_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    # True while the target unit is counted in held_count.
    holds_capacity = models.BooleanField(default=False)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)
    # Refunded of the payment, as Stripe reports it (cumulative, minor units of `currency`).
    refunded_amount = models.PositiveIntegerField(default=0)
    # Set when a refund arrives; staff look at the ticket and clear it (Django admin).
    refund_needs_review = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["ticket"], condition=models.Q(status="pending"), name="upgrade_one_pending_per_ticket")
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="upgrade_status_expires")]

    def __str__(self) -> str:
        return f"upgrade {self.public_id} ({self.status})"
