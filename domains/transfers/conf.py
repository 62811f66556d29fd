"""Transfer settings with defaults, read at call time.

TRANSFER_TOKEN_TTL_HOURS   how long an accept link stays valid (default 72)
TRANSFER_MAX_PER_TICKET    accepted transfers per ticket when the festival sets none (default None: unlimited)
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings


def token_ttl() -> timedelta:
    return timedelta(hours=int(getattr(settings, "TRANSFER_TOKEN_TTL_HOURS", 72)))


def default_max_per_ticket() -> int | None:
    value = getattr(settings, "TRANSFER_MAX_PER_TICKET", None)
    return None if value in (None, "") else int(value)
