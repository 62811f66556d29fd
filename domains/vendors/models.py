"""Vendors: profiles (with their review history), booths on the site map, booth assignments
(with the setup window and crew passes) and the crew entries admitted at setup.

Who may do what, and when, is written in the services (domains/vendors/services/); the
database backs the two rules that must survive any caller:

- a booth holds at most one vendor at a time (`booth_one_active_assignment`), and
- a vendor holds at most one booth per festival (`vendor_one_active_booth_per_festival`).

An assignment is never deleted: unassigning sets `ended_at`, so the booth's history and the
crew entries stay for audit, and the partial unique constraints only count live rows.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class VendorCategory(models.TextChoices):
    FOOD = "food"
    DRINK = "drink"
    MERCHANDISE = "merchandise"
    SERVICES = "services"
    SPONSOR_ACTIVATION = "sponsor_activation"


class BoothSize(models.TextChoices):
    SMALL = "small", "Small (3 x 3 m)"
    MEDIUM = "medium", "Medium (3 x 6 m)"
    LARGE = "large", "Large (6 x 6 m)"
    XLARGE = "xlarge", "Extra large (6 x 12 m)"


class VendorProfile(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        SUBMITTED = "submitted"
        APPROVED = "approved"
        REJECTED = "rejected"
        SUSPENDED = "suspended"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # One profile per vendor account; the account's role is `vendor`.
    owner = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="vendor_profile")
    business_name = models.CharField(max_length=150, blank=True)
    category = models.CharField(max_length=32, choices=VendorCategory.choices, blank=True)
    description = models.TextField(max_length=2000, blank=True)
    logo_url = models.URLField(max_length=500, blank=True)
    website_url = models.URLField(max_length=500, blank=True)
    # A list of URLs (Instagram, TikTok, ...), at most 10.
    social_links = models.JSONField(default=list, blank=True)
    # Menu items or products the public list shows, a list of short strings, at most 20.
    highlights = models.JSONField(default=list, blank=True)
    # Contact for the organisers only: never in a public answer.
    contact_email = models.EmailField(max_length=254, blank=True)
    contact_phone = models.CharField(max_length=32, blank=True)
    # What the vendor needs on site: power in amperes (0 = none) and the booth size wanted.
    power_amps = models.PositiveIntegerField(default=0)
    space_size = models.CharField(max_length=16, choices=BoothSize.choices, blank=True)
    space_notes = models.CharField(max_length=500, blank=True)
    # People who need to get in during setup; the admin sets the actual limit on the assignment.
    crew_size = models.PositiveIntegerField(default=2)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    # The last reviewer's note, shown to the vendor (reasons for a rejection, a suspension).
    review_note = models.TextField(max_length=2000, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["status", "business_name"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(crew_size__lte=100), name="vendor_crew_size_bounded"),
        ]

    def __str__(self) -> str:
        return self.business_name or f"vendor {self.public_id}"


class VendorReview(models.Model):
    """One status change of a profile: submissions, decisions, automatic resubmissions."""

    class Action(models.TextChoices):
        SUBMIT = "submit"
        RESUBMIT = "resubmit"  # an approved vendor changed a critical field
        APPROVE = "approve"
        REJECT = "reject"
        SUSPEND = "suspend"

    profile = models.ForeignKey(VendorProfile, on_delete=models.CASCADE, related_name="reviews")
    action = models.CharField(max_length=16, choices=Action.choices)
    from_status = models.CharField(max_length=16, choices=VendorProfile.Status.choices)
    to_status = models.CharField(max_length=16, choices=VendorProfile.Status.choices)
    note = models.TextField(max_length=2000, blank=True)
    # Null for the vendor's own submissions.
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action}: {self.from_status} -> {self.to_status}"


class Booth(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    festival = models.ForeignKey("events.Festival", on_delete=models.PROTECT, related_name="booths")
    code = models.CharField(max_length=16)
    zone = models.CharField(max_length=64)
    size = models.CharField(max_length=16, choices=BoothSize.choices, default=BoothSize.SMALL)
    power_amps = models.PositiveIntegerField(default=0)
    # What the vendor pays for the booth: integer minor units + ISO currency.
    price_amount = models.PositiveIntegerField(default=0)
    currency = models.CharField(max_length=3, default="USD")
    # Position on the site map in the map's own units (the client's map image, 0..1000).
    map_x = models.FloatField(null=True, blank=True)
    map_y = models.FloatField(null=True, blank=True)
    notes = models.CharField(max_length=500, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["festival", "code"], name="booth_code_unique_per_festival")]
        indexes = [models.Index(fields=["festival", "zone"])]

    def __str__(self) -> str:
        return self.code


class BoothAssignment(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    booth = models.ForeignKey(Booth, on_delete=models.PROTECT, related_name="assignments")
    vendor = models.ForeignKey(VendorProfile, on_delete=models.PROTECT, related_name="assignments")
    # Copied from the booth so that the database can enforce one booth per vendor per festival.
    festival = models.ForeignKey("events.Festival", on_delete=models.PROTECT, related_name="+")
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    assigned_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The setup QR admits the crew between these instants, at most `crew_limit` entries.
    setup_starts_at = models.DateTimeField()
    setup_ends_at = models.DateTimeField()
    setup_instructions = models.TextField(max_length=2000, blank=True)
    crew_limit = models.PositiveIntegerField(default=2)
    crew_entries = models.PositiveIntegerField(default=0)
    # Part of the signed setup QR; bump it to invalidate every code issued before.
    qr_version = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["booth"], condition=models.Q(ended_at__isnull=True), name="booth_one_active_assignment"
            ),
            models.UniqueConstraint(
                fields=["vendor", "festival"],
                condition=models.Q(ended_at__isnull=True),
                name="vendor_one_active_booth_per_festival",
            ),
            models.CheckConstraint(
                condition=models.Q(setup_ends_at__gt=models.F("setup_starts_at")), name="assignment_setup_window_ordered"
            ),
            models.CheckConstraint(
                condition=models.Q(crew_entries__lte=models.F("crew_limit")), name="assignment_crew_entries_within_limit"
            ),
        ]

    def __str__(self) -> str:
        # ids, not the related rows: a list of assignments in the admin costs no query per row
        return f"Booth #{self.booth_id} / vendor #{self.vendor_id}"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None


class VendorSetupEntry(models.Model):
    """One crew member let in with the setup QR (the audit trail behind `crew_entries`)."""

    assignment = models.ForeignKey(BoothAssignment, on_delete=models.PROTECT, related_name="setup_entries")
    gate = models.CharField(max_length=64)
    scanned_at = models.DateTimeField()

    class Meta:
        ordering = ["scanned_at", "id"]

    def __str__(self) -> str:
        return f"Assignment #{self.assignment_id} at {self.gate}"
