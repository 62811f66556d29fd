"""Festival configuration: the festival, its sponsors, stages and performances, contact messages."""

from __future__ import annotations

import uuid

from django.db import models


class Festival(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        ANNOUNCED = "announced"
        ON_SALE = "on_sale"
        LIVE = "live"
        ENDED = "ended"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    tagline = models.CharField(max_length=300, blank=True)
    starts_on = models.DateField()
    ends_on = models.DateField()
    timezone = models.CharField(max_length=64, default="UTC")
    venue_name = models.CharField(max_length=200)
    venue_address = models.CharField(max_length=400, blank=True)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    currency = models.CharField(max_length=3, default="USD")
    contact_email = models.EmailField(blank=True)
    website_url = models.URLField(blank=True)
    # Client-facing knobs (colours, links, feature flags) the public site reads as they are.
    public_settings = models.JSONField(default=dict, blank=True)
    # The festival `festival` answers when no slug is given.
    is_current = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["is_current"], condition=models.Q(is_current=True), name="one_current_festival"),
            models.CheckConstraint(condition=models.Q(ends_on__gte=models.F("starts_on")), name="festival_dates_ordered"),
        ]

    def __str__(self) -> str:
        return self.name


class Sponsor(models.Model):
    class Tier(models.TextChoices):
        HEADLINE = "headline"
        GOLD = "gold"
        SILVER = "silver"
        BRONZE = "bronze"
        PARTNER = "partner"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    festival = models.ForeignKey(Festival, on_delete=models.CASCADE, related_name="sponsors")
    name = models.CharField(max_length=200)
    tier = models.CharField(max_length=16, choices=Tier.choices, default=Tier.PARTNER)
    sort_order = models.PositiveIntegerField(default=0)
    logo_url = models.URLField(blank=True)
    link_url = models.URLField(blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sort_order", "name"]

    def __str__(self) -> str:
        return self.name


class Stage(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    festival = models.ForeignKey(Festival, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=400, blank=True)
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "name"]
        constraints = [models.UniqueConstraint(fields=["festival", "name"], name="stage_name_unique")]

    def __str__(self) -> str:
        return self.name


class Performance(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="performances")
    artist = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    image_url = models.URLField(blank=True)

    class Meta:
        ordering = ["starts_at", "stage__sort_order"]
        indexes = [models.Index(fields=["stage", "starts_at"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")), name="performance_ends_after_start")
        ]

    def __str__(self) -> str:
        return f"{self.artist} ({self.starts_at:%Y-%m-%d %H:%M})" if self.starts_at else self.artist


class ContactMessage(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    festival = models.ForeignKey(Festival, on_delete=models.SET_NULL, null=True, related_name="contact_messages")
    name = models.CharField(max_length=150)
    email = models.EmailField(max_length=254)
    subject = models.CharField(max_length=200)
    message = models.TextField(max_length=5000)
    created_at = models.DateTimeField(auto_now_add=True)
    handled_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Contact message {self.public_id}"  # no name or address: admin logs keep this
