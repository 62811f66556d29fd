"""Ticket transfers: a holder offers a ticket to an email address; the person signed in with
that address accepts with the single-use token sent there.

Only the SHA-256 of the token is stored: a database leak reveals no usable accept link.
At most one pending transfer per ticket (partial unique constraint).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Transfer(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        ACCEPTED = "accepted"
        CANCELLED = "cancelled"
        EXPIRED = "expired"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="transfers")
    from_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="transfers_sent")
    to_email = models.EmailField(max_length=254)
    to_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="transfers_received"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket"], condition=models.Q(status="pending"), name="transfer_one_pending_per_ticket"
            )
        ]
        indexes = [
            models.Index(fields=["from_user", "-created_at"], name="transfer_from_created"),
            models.Index(fields=["to_email", "-created_at"], name="transfer_to_email_created"),
        ]

    def __str__(self) -> str:
        return f"transfer {self.public_id} ({self.status})"


class FestivalTransferPolicy(models.Model):
    """Optional per-festival limits; without a row the settings' defaults apply
    (TRANSFER_MAX_PER_TICKET, no deadline)."""

    festival = models.OneToOneField("events.Festival", on_delete=models.CASCADE, related_name="transfer_policy")
    # No transfer may be created or accepted after this moment (e.g. gates opening).
    deadline = models.DateTimeField(null=True, blank=True)
    # Accepted transfers per ticket; null: the TRANSFER_MAX_PER_TICKET setting (null = unlimited).
    max_transfers_per_ticket = models.PositiveIntegerField(null=True, blank=True)
    transfers_enabled = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"Transfer policy of festival #{self.festival_id}"
