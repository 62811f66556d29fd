from django import forms
from django.contrib import admin

from domains.tickets.models import Ticket, TicketType


class TicketTypeForm(forms.ModelForm):
    class Meta:
        model = TicketType
        fields = (
            "festival", "name", "description", "tier_rank", "price_amount", "currency", "capacity", "comp_allowance",
            "per_order_limit", "sale_starts_at", "sale_ends_at", "valid_on", "is_active", "sort_order",
        )  # fmt: skip

    def clean_comp_allowance(self):
        """The allowance cannot go below the comps already issued from it (the form leaves
        out the counter, so Django would skip the model's CHECK constraint here)."""
        allowance = self.cleaned_data.get("comp_allowance")
        if allowance is not None and self.instance.pk:
            issued = TicketType.objects.filter(pk=self.instance.pk).values_list("comp_issued_count", flat=True).first() or 0
            if allowance < issued:
                raise forms.ValidationError(f"{issued} comps were already issued from the allowance; it cannot be lower.")
        return allowance


@admin.register(TicketType)
class TicketTypeAdmin(admin.ModelAdmin):
    form = TicketTypeForm
    list_display = (
        "name", "festival", "tier_rank", "price_amount", "currency", "capacity", "sold_count", "held_count",
        "comp_allowance", "comp_issued_count", "is_active",
    )  # fmt: skip
    list_filter = ("festival", "is_active")
    # The counters move only through domains/tickets/inventory.py (conditional UPDATEs).
    readonly_fields = ("sold_count", "held_count", "comp_issued_count")
    COUNTERS = frozenset(readonly_fields)

    def save_model(self, request, obj, form, change):
        """Save what the form edits, never the counters: a full-row save would write back the
        counters as they were read, undoing a sale or comp committed in the meantime."""
        if not change:
            return super().save_model(request, obj, form, change)
        fields = [f.name for f in obj._meta.concrete_fields if not f.primary_key and f.name not in self.COUNTERS]
        obj.save(update_fields=fields)


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ("public_id", "ticket_type", "holder", "status", "secret_version", "issued_at")
    list_filter = ("status", "ticket_type")
    search_fields = ("public_id", "holder__email")
    raw_id_fields = ("holder", "order_line", "refund")
