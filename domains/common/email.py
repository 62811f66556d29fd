"""What counts as an email address we accept, in one place."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

# RFC 5321's limit for an address in a mail path, and what every email column holds. Django's
# validator accepts up to 320 characters: longer addresses failed at the INSERT (a masked error).
MAX_EMAIL_LENGTH = 254


def is_valid_email(address: str) -> bool:
    if len(address) > MAX_EMAIL_LENGTH:
        return False
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True
