"""Registration and email verification."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from domains.accounts.errors import AccountErrorCode
from domains.accounts.models import OneTimeToken, User, normalize_email
from domains.accounts.services.validation import check_email, check_password_strength, check_text
from domains.accounts.tokens import hash_secret, new_secret
from domains.common.clock import now
from domains.common.errors import DomainError
from domains.notifications.services import email_enqueue


def user_register(*, email: str, password: str, full_name: str = "") -> None:
    """Create an attendee account and send a verification link.

    The answer does not tell whether the address already had an account: for an existing
    one we hash the password anyway (same time) and email its owner instead. Invalid input
    (bad email, weak password) is reported, since that says nothing about other people.
    """
    email = normalize_email(email)
    check_email(email)
    check_text(full_name, field="fullName", max_length=150)
    check_password_strength(password, User(email=email, full_name=full_name))
    existing = User.objects.filter(email=email).first()
    if existing is None:
        try:
            with transaction.atomic():
                user = User.objects.create_user(email=email, password=password, full_name=full_name.strip())
                _send_verification(user)
            return
        except (IntegrityError, ValidationError):
            # Another request registered the address a moment ago (full_clean or the
            # unique constraint noticed); anything else is a real error.
            existing = User.objects.filter(email=email).first()
            if existing is None:
                raise
    make_password(password)
    with transaction.atomic():
        stamp = now().strftime("%Y%m%d%H")  # at most one such email an hour
        email_enqueue(
            key=f"account-exists:{existing.public_id}:{stamp}",
            to_email=existing.email,
            template="account_exists",
            context={"full_name": existing.full_name},
        )


def _send_verification(user: User) -> None:
    raw = new_secret()
    OneTimeToken.objects.create(
        user=user,
        purpose=OneTimeToken.Purpose.EMAIL_VERIFICATION,
        token_hash=hash_secret(raw),
        expires_at=now() + settings.PASSWORD_RESET_TTL * 24,
    )
    email_enqueue(
        key=f"verify-email:{user.public_id}:{hash_secret(raw)[:12]}",
        to_email=user.email,
        template="verify_email",
        context={"full_name": user.full_name, "token": raw},
        sensitive=True,
    )


def consume_one_time_token(raw: str, purpose: str, field: str = "token") -> OneTimeToken:
    """Lock and spend a single-use token (inside the caller's transaction)."""
    token = (
        OneTimeToken.objects.select_for_update()
        .select_related("user")
        .filter(token_hash=hash_secret(raw or ""), purpose=purpose)
        .first()
    )
    if token is None or token.used_at is not None or not token.user.is_active:
        raise DomainError(AccountErrorCode.INVALID_TOKEN, "This link is not valid.", field)
    if token.expires_at <= now():
        raise DomainError(AccountErrorCode.TOKEN_EXPIRED, "This link has expired.", field)
    token.used_at = now()
    token.save(update_fields=["used_at"])
    return token


def user_verify_email(*, token: str) -> User:
    """Mark the address verified; the link works once."""
    with transaction.atomic():
        spent = consume_one_time_token(token, OneTimeToken.Purpose.EMAIL_VERIFICATION)
        user = spent.user
        if user.email_verified_at is None:
            user.email_verified_at = now()
            user.save(update_fields=["email_verified_at"])
    return user
