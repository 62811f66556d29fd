"""The audit trail of the ticket lifecycle: who did what, when and why.

One row per staff action (refund, comp, resend, processed upgrade) and per change of a
ticket's owner or status made by this area (transfer accepted, upgrade applied, voided).
Rows are only ever inserted (`domains.audit.services.audit_record`), never updated.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class AuditEntry(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Null for the system (webhook, expiry job).
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # Dotted verb, e.g. "transfer.accepted", "order.refunded", "ticket.voided", "comp.issued".
    action = models.CharField(max_length=48)
    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, null=True, blank=True, related_name="audit_entries")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, null=True, blank=True, related_name="audit_entries")
    reason = models.CharField(max_length=500, blank=True)
    # What changed (from/to values, amounts, public ids). Never secrets or tokens.
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["order", "created_at"], name="audit_order_created"),
            models.Index(fields=["ticket", "created_at"], name="audit_ticket_created"),
            models.Index(fields=["actor", "created_at"], name="audit_actor_created"),
        ]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_id} at {self.created_at}"
