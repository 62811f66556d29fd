"""Input rules shared by registration, profile and password services."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from domains.accounts.errors import AccountErrorCode
from domains.common.email import is_valid_email
from domains.common.errors import CommonErrorCode, DomainError, ErrorDetail

MAX_PASSWORD_LENGTH = 128  # hashing a megabyte "password" is a denial of service


def check_email(email: str, field: str = "email") -> None:
    if not is_valid_email(email):
        raise DomainError(AccountErrorCode.INVALID_EMAIL, "Enter a valid email address.", field)


def check_password_strength(password: str, user=None, field: str = "password") -> None:
    if len(password) > MAX_PASSWORD_LENGTH:
        raise DomainError(
            AccountErrorCode.PASSWORD_TOO_WEAK, f"Use at most {MAX_PASSWORD_LENGTH} characters.", field
        )
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise DomainError.many(
            [ErrorDetail(AccountErrorCode.PASSWORD_TOO_WEAK, message, field) for message in exc.messages]
        ) from None


def check_text(value: str | None, *, field: str, max_length: int) -> None:
    if value is not None and len(value) > max_length:
        raise DomainError(CommonErrorCode.INVALID_INPUT, f"Use at most {max_length} characters.", field)
