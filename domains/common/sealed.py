"""Sealed text for queue messages: encrypted and authenticated with a key derived from
DJANGO_SECRET_KEY, so the broker (Redis) never holds personal data in the clear.

Messages carry ids only. The one exception is a job about something that may have no id: a
password reset for an address that may have no account must be queued whether or not it has
one, or the time the request takes tells an attacker which addresses are registered. The
address then travels sealed, and a seal older than its time to live opens to nothing.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

from domains.common.signing import derive_key


def _fernet() -> Fernet:
    # Derived on each call: settings may change in tests, and HKDF costs microseconds.
    return Fernet(base64.urlsafe_b64encode(derive_key(settings.SECRET_KEY, "queue-seal-v1")))


def seal(text: str) -> str:
    return _fernet().encrypt(text.encode("utf-8")).decode("ascii")


def unseal(token: str, *, max_age_seconds: int) -> str | None:
    """The sealed text, or None when the seal was not made with our key, was changed, or is
    older than ``max_age_seconds``."""
    try:
        return _fernet().decrypt(token.encode("ascii"), ttl=max_age_seconds).decode("utf-8")
    except (InvalidToken, UnicodeError):
        return None
