from django.contrib import admin

from domains.orders.models import (
    Dispute,
    InventoryHold,
    Order,
    OrderLine,
    OrderStatusChange,
    Payment,
    Refund,
    WebhookEvent,
)


class LineInline(admin.TabularInline):
    model = OrderLine
    extra = 0


class PaymentInline(admin.TabularInline):
    model = Payment
    extra = 0


class HistoryInline(admin.TabularInline):
    model = OrderStatusChange
    extra = 0


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("number", "buyer", "status", "total_amount", "currency", "created_at")
    list_filter = ("status", "festival")
    search_fields = ("number", "public_id", "buyer__email", "payment_intent_id")
    raw_id_fields = ("buyer",)
    inlines = [LineInline, PaymentInline, HistoryInline]


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    """Events needing a human (unknown order, amount mismatch, payment after expiry) are
    filtered by outcome = needs_attention."""

    list_display = ("stripe_event_id", "type", "outcome", "note", "order", "received_at")
    list_filter = ("outcome", "type")
    search_fields = ("stripe_event_id",)


@admin.register(Dispute)
class DisputeAdmin(admin.ModelAdmin):
    """Stripe disputes (domains/orders/disputes.py); open ones are filtered by status."""

    list_display = ("stripe_dispute_id", "status", "order", "upgrade", "amount", "currency", "reason", "evidence_due_by", "recorded_at")
    list_filter = ("status", "reason")
    search_fields = ("stripe_dispute_id", "payment_intent_id", "order__number")
    raw_id_fields = ("order", "upgrade", "refund")


admin.site.register(InventoryHold)
admin.site.register(Refund)
