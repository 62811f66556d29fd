"""Django admin for vendors. Booths are defined here; status changes and assignments go
through the services so that the rules, the history and the emails are the same as in the API."""

from django.contrib import admin, messages

from domains.common.errors import DomainError
from domains.vendors.models import Booth, BoothAssignment, VendorProfile, VendorReview, VendorSetupEntry
from domains.vendors.services import booth_unassign, vendor_review


class VendorReviewInline(admin.TabularInline):
    model = VendorReview
    extra = 0
    can_delete = False
    fields = ("created_at", "action", "from_status", "to_status", "reviewer", "note")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(VendorProfile)
class VendorProfileAdmin(admin.ModelAdmin):
    list_display = ("business_name", "category", "status", "owner", "submitted_at", "reviewed_at")
    list_filter = ("status", "category")
    search_fields = ("business_name", "owner__email", "contact_email")
    raw_id_fields = ("owner",)
    readonly_fields = ("public_id", "status", "review_note", "submitted_at", "reviewed_at", "created_at", "updated_at")
    inlines = [VendorReviewInline]
    actions = ["approve", "suspend"]

    def _decide(self, request, queryset, decision, note):
        done = 0
        for profile in queryset:
            try:
                vendor_review(reviewer=request.user, vendor_id=profile.public_id, decision=decision, note=note)
                done += 1
            except DomainError as exc:
                messages.warning(request, f"{profile}: {exc}")
        messages.success(request, f"{done} vendor(s): {decision}.")

    @admin.action(description="Approve selected vendors")
    def approve(self, request, queryset):
        self._decide(request, queryset, "approve", "")

    @admin.action(description="Suspend selected vendors")
    def suspend(self, request, queryset):
        self._decide(request, queryset, "suspend", "Suspended by the organisers.")


class BoothAssignmentInline(admin.TabularInline):
    model = BoothAssignment
    fk_name = "booth"
    extra = 0
    can_delete = False
    fields = ("vendor", "assigned_at", "ended_at", "setup_starts_at", "setup_ends_at", "crew_limit", "crew_entries")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Booth)
class BoothAdmin(admin.ModelAdmin):
    list_display = ("code", "festival", "zone", "size", "power_amps", "price_amount", "currency", "is_active")
    list_filter = ("festival", "zone", "size", "is_active")
    search_fields = ("code", "zone")
    readonly_fields = ("public_id",)
    inlines = [BoothAssignmentInline]
    actions = ["unassign"]

    @admin.action(description="Unassign the vendor of the selected booths")
    def unassign(self, request, queryset):
        for booth in queryset:
            try:
                booth_unassign(admin=request.user, booth_id=booth.public_id)
            except DomainError as exc:
                messages.warning(request, f"{booth}: {exc}")


@admin.register(BoothAssignment)
class BoothAssignmentAdmin(admin.ModelAdmin):
    """Read and adjust setup details; create and end assignments with the API (assignBooth)."""

    list_display = ("booth", "vendor", "festival", "assigned_at", "ended_at", "crew_entries", "crew_limit")
    list_filter = ("festival", "ended_at")
    search_fields = ("booth__code", "vendor__business_name")
    readonly_fields = ("public_id", "booth", "vendor", "festival", "assigned_by", "assigned_at", "ended_at", "ended_by", "crew_entries")

    def has_add_permission(self, request):
        return False


@admin.register(VendorSetupEntry)
class VendorSetupEntryAdmin(admin.ModelAdmin):
    list_display = ("assignment", "gate", "scanned_at")
    readonly_fields = ("assignment", "gate", "scanned_at")

    def has_add_permission(self, request):
        return False
