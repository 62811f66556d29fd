"""Profile edits and role changes."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from domains.accounts.models import AuthSession, Role, User
from domains.accounts.services.authentication import user_auth_changed
from domains.accounts.services.validation import check_text
from domains.common.clock import now
from domains.common.errors import CommonErrorCode, DomainError


def user_update_profile(*, user: User, full_name: str | None = None, phone: str | None = None) -> User:
    """Change the fields a person may change about themselves (not email, not role)."""
    check_text(full_name, field="fullName", max_length=150)
    check_text(phone, field="phone", max_length=32)
    if phone is not None and phone and not all(c.isdigit() or c in "+-() " for c in phone):
        raise DomainError(CommonErrorCode.INVALID_INPUT, "Phone may hold digits, spaces and + - ( ).", "phone")
    fields = []
    if full_name is not None:
        user.full_name = full_name.strip()
        fields.append("full_name")
    if phone is not None:
        user.phone = phone.strip()
        fields.append("phone")
    if fields:
        user.save(update_fields=fields)
    return user


def user_set_role(*, user: User, role: str) -> User:
    """Give a user another role; every token issued before stops working at once."""
    if role not in Role.values:
        raise DomainError(CommonErrorCode.INVALID_INPUT, "Unknown role.", "role")
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(
            role=role, is_staff=(role == Role.ADMIN) or user.is_superuser, token_version=F("token_version") + 1
        )
        AuthSession.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now(), revoked_reason="role")
        user_auth_changed(user)
    user.refresh_from_db()
    return user
