from django.contrib import admin

from domains.notifications.models import OutboundEmail


@admin.register(OutboundEmail)
class OutboundEmailAdmin(admin.ModelAdmin):
    list_display = ("key", "template", "status", "created_at", "sent_at")
    list_filter = ("status", "template")
    search_fields = ("key",)
    readonly_fields = ("context",)
