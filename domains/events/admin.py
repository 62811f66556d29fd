from django.contrib import admin

from domains.events.models import ContactMessage, Festival, Performance, Sponsor, Stage


class SponsorInline(admin.TabularInline):
    model = Sponsor
    extra = 0


class StageInline(admin.TabularInline):
    model = Stage
    extra = 0


@admin.register(Festival)
class FestivalAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "starts_on", "ends_on", "status", "is_current")
    list_filter = ("status",)
    prepopulated_fields = {"slug": ("name",)}
    inlines = [StageInline, SponsorInline]


@admin.register(Sponsor)
class SponsorAdmin(admin.ModelAdmin):
    list_display = ("name", "festival", "tier", "sort_order", "is_active")
    list_filter = ("tier", "festival")


@admin.register(Stage)
class StageAdmin(admin.ModelAdmin):
    list_display = ("name", "festival", "sort_order")


@admin.register(Performance)
class PerformanceAdmin(admin.ModelAdmin):
    list_display = ("artist", "stage", "starts_at", "ends_at")
    list_filter = ("stage__festival", "stage")
    search_fields = ("artist",)


@admin.register(ContactMessage)
class ContactMessageAdmin(admin.ModelAdmin):
    list_display = ("subject", "name", "email", "created_at", "handled_at")
    search_fields = ("subject", "email", "name")
