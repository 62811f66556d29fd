"""Gates, scanner devices, entry rules, the admission state of each ticket and the scan log.

Who may enter is decided under the ticket's row lock (domains/scanning/services/commit.py);
`TicketEntryState` is the current truth about a ticket at the gates, `ScanLog` the audit trail
of every attempt (admitted or refused, online or uploaded later, by hand or by camera).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Verdict(models.TextChoices):
    ADMITTED = "ADMITTED"
    ALREADY_USED = "ALREADY_USED"
    INVALID = "INVALID"
    VOIDED = "VOIDED"
    NOT_VALID_TODAY = "NOT_VALID_TODAY"
    WRONG_GATE = "WRONG_GATE"
    # Exit scans: the holder left (EXITED); exits are off for the ticket type; not inside.
    EXITED = "EXITED"
    EXIT_NOT_ALLOWED = "EXIT_NOT_ALLOWED"
    NOT_INSIDE = "NOT_INSIDE"
    # A supervisor undid a mistaken admission.
    RESTORED = "RESTORED"
    # Vendor setup codes (domains/vendors, kind "V").
    VENDOR_SETUP_ADMITTED = "VENDOR_SETUP_ADMITTED"
    OUTSIDE_WINDOW = "OUTSIDE_WINDOW"
    CREW_LIMIT_REACHED = "CREW_LIMIT_REACHED"
    SUSPENDED = "SUSPENDED"


# Verdicts that change a ticket's state; everything else is a refusal.
ACCEPTING_VERDICTS = frozenset({Verdict.ADMITTED, Verdict.EXITED, Verdict.RESTORED, Verdict.VENDOR_SETUP_ADMITTED})


class Direction(models.TextChoices):
    ENTRY = "ENTRY"
    EXIT = "EXIT"


class Gate(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    festival = models.ForeignKey("events.Festival", on_delete=models.CASCADE, related_name="gates")
    name = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["festival", "name"], name="gate_name_unique")]

    def __str__(self) -> str:
        return self.name


class TicketTypeEntryRule(models.Model):
    """How a ticket type gets in. Without a row: single entry, no exits, any gate."""

    class Mode(models.TextChoices):
        SINGLE = "single"  # once for the whole festival
        DAILY = "daily"  # once per festival-local day (multi-day passes)

    ticket_type = models.OneToOneField("tickets.TicketType", on_delete=models.CASCADE, related_name="entry_rule")
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.SINGLE)
    # Exit scans record that the holder left, which allows one re-entry.
    allow_exit = models.BooleanField(default=False)
    # Empty: every gate of the festival; otherwise only these (WRONG_GATE elsewhere).
    allowed_gates = models.ManyToManyField(Gate, blank=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Entry rule of ticket type #{self.ticket_type_id}: {self.mode}"


class ScannerDevice(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    gate = models.ForeignKey(Gate, on_delete=models.PROTECT, related_name="devices")
    name = models.CharField(max_length=100)
    # SHA-256 of the device token; the token itself is shown once, at registration.
    token_hash = models.CharField(max_length=64, unique=True)
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.public_id})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class TicketEntryState(models.Model):
    """Where a ticket stands at the gates. Written only under the ticket's row lock."""

    ticket = models.OneToOneField("tickets.Ticket", on_delete=models.CASCADE, primary_key=True, related_name="entry_state")
    first_admitted_at = models.DateTimeField(null=True, blank=True)
    first_gate = models.ForeignKey(Gate, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # Festival-local day of the latest admission and the first admission that day (day passes
    # and daily multi-day passes answer ALREADY_USED with these).
    day = models.DateField(null=True, blank=True)
    day_first_admitted_at = models.DateTimeField(null=True, blank=True)
    day_first_gate = models.ForeignKey(Gate, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    inside = models.BooleanField(default=False)
    admissions = models.PositiveIntegerField(default=0)
    # Distinct festival days with an admission (for daily passes), e.g. ["2026-07-03"].
    days_admitted = models.JSONField(default=list, blank=True)
    last_scan_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    def __str__(self) -> str:
        return f"Entry state of ticket #{self.ticket_id}: {self.admissions} admission(s)"

    @property
    def ever_admitted(self) -> bool:
        return self.admissions > 0


class ScanLog(models.Model):
    """Every scan attempt. `nonce` (per device) makes a retried request return its first answer."""

    class Method(models.TextChoices):
        CAMERA = "camera"
        MANUAL = "manual"  # supervisor admitted or restored by hand

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    festival = models.ForeignKey("events.Festival", on_delete=models.CASCADE, related_name="+")
    # Null when the code named no ticket (forged, malformed, unknown) or was a vendor code.
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    ticket_type = models.ForeignKey("tickets.TicketType", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    gate = models.ForeignKey(Gate, on_delete=models.PROTECT, related_name="scan_logs")
    device = models.ForeignKey(ScannerDevice, on_delete=models.PROTECT, null=True, blank=True, related_name="scan_logs")
    staff_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    verdict = models.CharField(max_length=24, choices=Verdict.choices)
    # Why a code was INVALID, for staff only (never sent to the scanner).
    reason = models.CharField(max_length=64, blank=True)
    direction = models.CharField(max_length=5, choices=Direction.choices, default=Direction.ENTRY)
    method = models.CharField(max_length=8, choices=Method.choices, default=Method.CAMERA)
    nonce = models.CharField(max_length=64, null=True, blank=True)
    # Device time of the scan (offline scans are uploaded later) and server time of receipt.
    scanned_at = models.DateTimeField()
    received_at = models.DateTimeField()
    offline = models.BooleanField(default=False)
    # An offline admission that the server could not confirm (someone was let in twice).
    conflict = models.BooleanField(default=False)
    # For ALREADY_USED: the admission that used it, so a replayed nonce answers the same.
    first_used_at = models.DateTimeField(null=True, blank=True)
    first_used_gate = models.ForeignKey(Gate, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # An ADMITTED later undone by a supervisor (stats leave it out).
    undone = models.BooleanField(default=False)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["device", "nonce"], condition=models.Q(nonce__isnull=False), name="scan_log_device_nonce_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["festival", "-id"]),
            models.Index(fields=["festival", "verdict"]),
            models.Index(fields=["ticket", "-id"]),
        ]
        permissions = [("supervise_gate", "Can look tickets up, admit by hand and restore admissions")]

    def __str__(self) -> str:
        return f"Scan {self.public_id}: {self.verdict}"
