"""Orders: checkout, inventory holds, payments, refunds, status history, Stripe events.

State machine of an order (transitions only in domains/orders/services.py, order row locked):

    pending --(payment succeeded)--> paid --(refund of part)--> partially_refunded --> refunded
       |                                 `--(dispute lost: booked as a refund, disputes.py)--^
       |--(payment failed)--> failed
       |--(hold expired / abandoned)--> expired
       `--(paid after expiry and capacity gone)--> needs_attention (staff refund)
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models

ORDER_NUMBER_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


def new_order_number() -> str:
    """Human order number, e.g. FT-7KQ3-M9XD (unique constraint; retried on collision)."""
    chars = "".join(secrets.choice(ORDER_NUMBER_ALPHABET) for _ in range(8))
    return f"FT-{chars[:4]}-{chars[4:]}"


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        PAID = "paid"
        FAILED = "failed"
        EXPIRED = "expired"
        PARTIALLY_REFUNDED = "partially_refunded"
        REFUNDED = "refunded"
        NEEDS_ATTENTION = "needs_attention"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(max_length=16, unique=True, default=new_order_number)
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    festival = models.ForeignKey("events.Festival", on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.PENDING)
    currency = models.CharField(max_length=3)
    # Minor units. Prices are tax-inclusive; tax_amount is the included part (0 when not configured).
    total_amount = models.PositiveIntegerField()
    tax_amount = models.PositiveIntegerField(default=0)
    refunded_amount = models.PositiveIntegerField(default=0)
    # The one Stripe PaymentIntent of this checkout (also on Payment); set in the same
    # transaction that learns it, so a retry reuses it instead of creating another.
    payment_intent_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    expires_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    # Gap-free per festival, allocated inside the fulfilment transaction.
    invoice_number = models.PositiveIntegerField(null=True, blank=True)
    invoice_issued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["buyer", "-created_at"]), models.Index(fields=["status", "expires_at"])]
        constraints = [
            models.UniqueConstraint(fields=["festival", "invoice_number"], name="order_invoice_number_unique"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def invoice_label(self) -> str | None:
        if self.invoice_number is None:
            return None
        return f"{self.festival.slug.upper()}-{self.invoice_number:06d}"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    ticket_type = models.ForeignKey("tickets.TicketType", on_delete=models.PROTECT, related_name="order_lines")
    quantity = models.PositiveIntegerField()
    unit_price = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "ticket_type"], name="order_line_one_per_type"),
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="order_line_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x ticket type #{self.ticket_type_id} in order #{self.order_id}"

    @property
    def total(self) -> int:
        return self.quantity * self.unit_price


class InventoryHold(models.Model):
    """Units of one ticket type reserved for a pending order until `expires_at`."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        CONVERTED = "converted"  # became tickets
        RELEASED = "released"  # returned to sale (expired, failed, abandoned)

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="holds")
    ticket_type = models.ForeignKey("tickets.TicketType", on_delete=models.PROTECT, related_name="holds")
    quantity = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["ticket_type", "status", "expires_at"]), models.Index(fields=["status", "expires_at"])]

    def __str__(self) -> str:
        return f"Hold of {self.quantity} for order #{self.order_id} ({self.status})"


class Payment(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELED = "canceled"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="payments")
    provider = models.CharField(max_length=16, default="stripe")
    provider_payment_id = models.CharField(max_length=255, unique=True)
    amount = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    failure_code = models.CharField(max_length=64, blank=True)
    failure_message = models.CharField(max_length=300, blank=True)
    charge_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Payment {self.public_id} ({self.amount} {self.currency})"


class Refund(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="refunds")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="refunds")
    provider_refund_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    amount = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SUCCEEDED)
    reason = models.CharField(max_length=200, blank=True)
    # Who asked (staff, issue 4); null when learnt from a Stripe event.
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # The number of the staff refund whose Stripe call made this one (its idempotency key and
    # `staff_refund` metadata), also when the charge.refunded event recorded it because the
    # call timed out (domains/orders/refunds.py `_staff_sequence`). Null for refunds made
    # elsewhere (Stripe's dashboard).
    staff_sequence = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Refund {self.public_id} ({self.amount} {self.currency}, {self.status})"


class OrderStatusChange(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="status_history")
    from_status = models.CharField(max_length=24, blank=True)
    to_status = models.CharField(max_length=24)
    # checkout, confirm, webhook, expiry, staff, ...
    source = models.CharField(max_length=24)
    note = models.CharField(max_length=300, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Order #{self.order_id}: {self.from_status or '-'} -> {self.to_status}"


class InvoiceSequence(models.Model):
    """Next invoice number per festival; the row is locked while a number is taken, inside
    the transaction that uses it, so a rollback gives the number back (no gaps)."""

    festival = models.OneToOneField("events.Festival", on_delete=models.CASCADE, related_name="invoice_sequence")
    next_number = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return f"Invoice numbers of festival #{self.festival_id}: next {self.next_number}"


class WebhookEvent(models.Model):
    """Every verified Stripe event, once (unique event id): replays are acknowledged, not re-run."""

    class Outcome(models.TextChoices):
        RECEIVED = "received"
        PROCESSED = "processed"
        IGNORED = "ignored"  # nothing to do (duplicate effect, unhandled type)
        NEEDS_ATTENTION = "needs_attention"  # unknown order, amount mismatch, late payment...

    stripe_event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    payload = models.JSONField()
    order = models.ForeignKey(Order, on_delete=models.SET_NULL, null=True, blank=True, related_name="webhook_events")
    outcome = models.CharField(max_length=24, choices=Outcome.choices, default=Outcome.RECEIVED)
    note = models.CharField(max_length=300, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["outcome", "-received_at"])]

    def __str__(self) -> str:
        return f"{self.type} {self.stripe_event_id} ({self.outcome})"


class Dispute(models.Model):
    """A Stripe dispute (a chargeback, or an inquiry that may become one) of an order's payment
    or of an upgrade's price difference, recorded from the ``charge.dispute.*`` events by
    domains/orders/disputes.py, which states what each status does to the order.

    `order` is the order whose staff view shows the dispute: the disputed order, or for an
    upgrade's payment (`upgrade` set) the order of the upgraded ticket (null for a ticket sold
    by no order). So the staff desk finds every dispute of an order through one column.
    """

    class Status(models.TextChoices):
        # Stripe's dispute statuses. warning_*: an inquiry, no money withdrawn yet.
        WARNING_NEEDS_RESPONSE = "warning_needs_response"
        WARNING_UNDER_REVIEW = "warning_under_review"
        WARNING_CLOSED = "warning_closed"
        NEEDS_RESPONSE = "needs_response"
        UNDER_REVIEW = "under_review"
        WON = "won"
        LOST = "lost"
        PREVENTED = "prevented"

    OPEN_STATUSES = (Status.WARNING_NEEDS_RESPONSE, Status.WARNING_UNDER_REVIEW, Status.NEEDS_RESPONSE, Status.UNDER_REVIEW)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    stripe_dispute_id = models.CharField(max_length=255, unique=True)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, null=True, blank=True, related_name="disputes")
    upgrade = models.ForeignKey("upgrades.Upgrade", on_delete=models.CASCADE, null=True, blank=True, related_name="disputes")
    # The disputed PaymentIntent (the order's, a second payment of it, or the upgrade's).
    payment_intent_id = models.CharField(max_length=255)
    amount = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    # Stripe's reason code: fraudulent, product_not_received, duplicate, general, ...
    reason = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=32, choices=Status.choices)
    # Staff must submit evidence in Stripe's dashboard before this (null: none asked).
    evidence_due_by = models.DateTimeField(null=True, blank=True)
    # When the cardholder's bank opened it (Stripe's `created`), and when we learnt it closed.
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # A lost dispute of the order's payment: the money booked like a refund (domains/orders/disputes.py).
    refund = models.OneToOneField(Refund, on_delete=models.SET_NULL, null=True, blank=True, related_name="dispute")
    recorded_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["recorded_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(order__isnull=False) | models.Q(upgrade__isnull=False), name="dispute_of_an_order_or_upgrade"
            ),
        ]

    def __str__(self) -> str:
        return f"Dispute {self.stripe_dispute_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES
