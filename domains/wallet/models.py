"""Wallet passes issued for tickets, and the Apple devices that follow them.

A pass is issued to one holder for one secret version of one ticket. It never changes hands:
when the ticket is transferred, refunded or re-issued the pass becomes SUPERSEDED or VOID
(installed copies update to show `voided`), and the holder of the new version creates a new
pass with a new serial number. That is what keeps a new holder's code off the old holder's
phone: the old serial only ever serves the old (stale) code.

Nothing secret is stored: the QR payload is derived from (ticket, secret_version) and the
PassKit authentication token from the serial number with WALLET_PASS_TOKEN_SECRET.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


def new_serial_number() -> str:
    return uuid.uuid4().hex


class WalletPass(models.Model):
    class Kind(models.TextChoices):
        APPLE = "apple"
        GOOGLE = "google"

    class Status(models.TextChoices):
        ACTIVE = "active"
        SUPERSEDED = "superseded"  # the ticket changed hands or was re-issued
        VOID = "void"  # the ticket was refunded or voided

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="wallet_passes")
    # Who it was issued to (the ticket's holder then); lists and permissions go by this.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="wallet_passes")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    # Apple serialNumber / Google object id suffix: [0-9a-f]{32}, stable for the pass's life.
    serial_number = models.CharField(max_length=64, unique=True, default=new_serial_number)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # What the pass was built for; a difference with the ticket means the pass is out of date.
    secret_version = models.PositiveIntegerField()
    ticket_type = models.ForeignKey("tickets.TicketType", on_delete=models.PROTECT, related_name="+")
    # Shown on the pass; kept so that a superseded pass rebuilds exactly as it was issued.
    holder_name = models.CharField(max_length=200)
    ticket_type_name = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)
    # Changes whenever the pass's content changes: PassKit's update tag and Last-Modified.
    last_updated = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["ticket", "status"]),
            models.Index(fields=["owner", "-created_at"]),
        ]
        constraints = [
            # One live pass per ticket, wallet and holder: creating twice returns the same one.
            models.UniqueConstraint(
                fields=["ticket", "kind", "owner"],
                condition=models.Q(status="active"),
                name="wallet_pass_one_active_per_ticket_kind_owner",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.serial_number}"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class PassKitDeviceRegistration(models.Model):
    """A device that installed an Apple pass and asked to be told when it changes."""

    device_library_identifier = models.CharField(max_length=128)
    push_token = models.CharField(max_length=256)
    wallet_pass = models.ForeignKey(WalletPass, on_delete=models.CASCADE, related_name="registrations")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["device_library_identifier", "wallet_pass"], name="passkit_registration_unique"
            )
        ]
        indexes = [models.Index(fields=["device_library_identifier"])]

    def __str__(self) -> str:
        return f"Wallet device registration #{self.pk} for pass #{self.wallet_pass_id}"


class PassKitLog(models.Model):
    """Messages that Wallet on a device reports about our web service (the `log` endpoint)."""

    message = models.TextField()
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Wallet log #{self.pk}"
