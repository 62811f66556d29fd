from django.contrib import admin

from domains.tickets.models import Ticket, TicketType


@admin.register(TicketType)
class TicketTypeAdmin(admin.ModelAdmin):
    list_display = ("name", "festival", "tier_rank", "price_amount", "currency", "capacity", "sold_count", "held_count", "is_active")
    list_filter = ("festival", "is_active")
    readonly_fields = ("sold_count", "held_count")


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ("public_id", "ticket_type", "holder", "status", "secret_version", "issued_at")
    list_filter = ("status", "ticket_type")
    search_fields = ("public_id", "holder__email")
    raw_id_fields = ("holder", "order_line", "refund")
