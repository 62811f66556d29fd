"""Outbound email, one row per (purpose, recipient) key: the row makes sending idempotent."""

from django.db import models


class OutboundEmail(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        # Never to be sent: its addressee's data was erased before it went out.
        DROPPED = "dropped"

    # Names what the email is for (e.g. "order-confirmation:<order uuid>"); the same key
    # is one email however often it is enqueued or its job delivered.
    key = models.CharField(max_length=200, unique=True)
    to_email = models.EmailField(max_length=254)
    template = models.CharField(max_length=100)
    context = models.JSONField(default=dict, blank=True)
    # Context holding a secret (reset links) is wiped once the email is sent.
    sensitive = models.BooleanField(default=False)
    attachments = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return self.key
