from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm

from domains.accounts.models import AuthSession, User
from domains.accounts.services import password_set_by_staff, user_set_role


class StaffPasswordForm(AdminPasswordChangeForm):
    """The admin's "change password" page, through `password_set_by_staff`: Django's own form
    only saved the new password, and the old password's sessions and reset links stayed live."""

    def save(self, commit=True):
        usable = self.cleaned_data.get("set_usable_password", True)
        password_set_by_staff(user=self.user, new_password=self.cleaned_data["password1"] if usable else None)
        return self.user


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    change_password_form = StaffPasswordForm
    ordering = ("email",)
    list_display = ("email", "full_name", "role", "is_active", "date_joined")
    list_filter = ("role", "is_active")
    search_fields = ("email", "full_name")
    readonly_fields = ("public_id", "date_joined", "last_login", "token_version", "role")
    fieldsets = (
        (None, {"fields": ("public_id", "email", "password")}),
        ("Profile", {"fields": ("full_name", "phone", "email_verified_at")}),
        ("Access", {"fields": ("role", "is_active", "is_staff", "is_superuser", "token_version")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    actions = ["make_attendee", "make_vendor", "make_staff", "make_admin"]

    # Role changes go through the service so that old tokens are revoked.
    def _set(self, request, queryset, role):
        for user in queryset:
            user_set_role(user=user, role=role)
        messages.success(request, f"{queryset.count()} user(s) now {role}.")

    def make_attendee(self, request, qs):
        self._set(request, qs, "attendee")

    def make_vendor(self, request, qs):
        self._set(request, qs, "vendor")

    def make_staff(self, request, qs):
        self._set(request, qs, "staff")

    def make_admin(self, request, qs):
        self._set(request, qs, "admin")


@admin.register(AuthSession)
class AuthSessionAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "created_at", "revoked_at", "revoked_reason")
    raw_id_fields = ("user",)
