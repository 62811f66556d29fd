"""Ticket catalogue and issued tickets.

Capacity accounting (why counters): `TicketType.sold_count` and `held_count` are changed
only by single conditional UPDATE statements (domains/tickets/inventory.py), e.g.
``UPDATE ... SET held_count = held_count + q WHERE id = ? AND sold_count + held_count + q <= capacity``.
The statement reads and writes under the row lock in one step, so two buyers can never both
take the last ticket, and a CHECK constraint makes overselling impossible even for a buggy
caller. Availability shown to clients subtracts only *live* holds (expired ones are ignored
before any job has released them).

Comp allowance (optional): `comp_allowance` set means complimentary tickets draw from their own
pool (`comp_issued_count <= comp_allowance`, same conditional-UPDATE technique) and never
consume sellable `capacity`; unset (null) means comps are sold units like any other. Each
ticket remembers which pool it came from (`Ticket.from_comp_allowance`), so a voided or
refunded ticket returns its unit to the pool it was taken from.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class TicketType(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    festival = models.ForeignKey("events.Festival", on_delete=models.PROTECT, related_name="ticket_types")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    # Higher is better (upgrades go from a lower to a higher rank).
    tier_rank = models.PositiveIntegerField(default=0)
    # Integer minor units (cents) in `currency` (ISO 4217, upper case).
    price_amount = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, default="USD")
    capacity = models.PositiveIntegerField()
    # Tickets issued (valid) and units held by pending checkouts; see the module docstring.
    sold_count = models.PositiveIntegerField(default=0)
    held_count = models.PositiveIntegerField(default=0)
    # Null: comps count against `capacity`. A number: comps come from this separate allowance.
    comp_allowance = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Complimentary tickets allowed outside the sellable capacity. Empty: comps count against capacity.",
    )
    # Valid comps issued from the allowance (changed only by domains/tickets/inventory.py).
    comp_issued_count = models.PositiveIntegerField(default=0)
    per_order_limit = models.PositiveIntegerField(default=10)
    sale_starts_at = models.DateTimeField(null=True, blank=True)
    sale_ends_at = models.DateTimeField(null=True, blank=True)
    # Null: valid for the whole festival (full pass); a date: that festival day only.
    valid_on = models.DateField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    sort_order = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sort_order", "tier_rank", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(sold_count__lte=models.F("capacity") - models.F("held_count")),
                name="ticket_type_never_oversold",
            ),
            models.CheckConstraint(condition=models.Q(per_order_limit__gte=1), name="ticket_type_per_order_limit_positive"),
            models.CheckConstraint(
                condition=models.Q(comp_allowance__isnull=True) | models.Q(comp_issued_count__lte=models.F("comp_allowance")),
                name="ticket_type_comp_allowance_never_exceeded",
                violation_error_message="The comp allowance cannot be lower than the comps already issued from it.",
            ),
            models.UniqueConstraint(fields=["festival", "name"], name="ticket_type_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_full_pass(self) -> bool:
        return self.valid_on is None


class Ticket(models.Model):
    class Status(models.TextChoices):
        VALID = "valid"
        VOID = "void"  # cancelled by staff or replaced (upgrade)
        REFUNDED = "refunded"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    ticket_type = models.ForeignKey(TicketType, on_delete=models.PROTECT, related_name="tickets")
    holder = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tickets")
    # Null for tickets not sold through an order (complimentary tickets).
    order_line = models.ForeignKey("orders.OrderLine", on_delete=models.PROTECT, null=True, blank=True, related_name="tickets")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.VALID)
    # Part of the signed QR payload. Bump it (`ticket_bump_secret`) whenever the ticket changes
    # hands or is voided: every QR code / screenshot issued before stops scanning.
    secret_version = models.PositiveIntegerField(default=1)
    issued_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=200, blank=True)
    refund = models.ForeignKey("orders.Refund", on_delete=models.SET_NULL, null=True, blank=True, related_name="tickets")
    # True: issued from the type's comp allowance, not its sellable capacity (see TicketType).
    from_comp_allowance = models.BooleanField(default=False)

    class Meta:
        ordering = ["issued_at", "id"]
        indexes = [models.Index(fields=["holder", "status"]), models.Index(fields=["ticket_type", "status"])]

    def __str__(self) -> str:
        return f"{self.ticket_type_id}:{self.public_id}"

    @property
    def is_valid(self) -> bool:
        return self.status == self.Status.VALID

    def order_for_holder(self):
        """The order this ticket was bought in, as its holder may see it: only a holder who
        bought it. A ticket transferred to someone else keeps its order line (a refund goes back
        to the buyer's payment), but the order and its number stay the buyer's: the number is
        what a buyer quotes to the support desk, and nothing of it is the new holder's business."""
        if self.order_line_id is None:
            return None
        order = self.order_line.order
        return order if order.buyer_id == self.holder_id else None
