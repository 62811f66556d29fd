from django.contrib import admin

from domains.upgrades.models import Upgrade


@admin.register(Upgrade)
class UpgradeAdmin(admin.ModelAdmin):
    """Read-only view of upgrades, except the refund review flag staff clear once decided
    (domains/upgrades/refunds.py). State changes go through the services, never this form."""

    list_display = ("public_id", "ticket", "from_type", "to_type", "status", "amount", "refunded_amount", "refund_needs_review", "created_at")
    list_filter = ("status", "refund_needs_review")
    search_fields = ("public_id", "payment_intent_id", "ticket__public_id", "ticket__holder__email")
    fields = (
        "public_id", "ticket", "from_type", "to_type", "status", "amount", "currency", "payment_intent_id",
        "refunded_amount", "refund_needs_review", "requested_by", "processed_by", "reason", "note",
        "created_at", "expires_at", "completed_at",
    )  # fmt: skip
    readonly_fields = tuple(f for f in fields if f != "refund_needs_review")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        obj.save(update_fields=["refund_needs_review"])
