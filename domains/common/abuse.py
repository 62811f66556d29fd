"""Abuse limits per client address and per account (settings.RATE_LIMITS).

`check(action, ip=..., account=...)` counts one attempt under each configured key and raises
`RateLimited` (retry_after seconds) once a window's allowance is spent. Keys hold digests,
never addresses or emails (the cache is not a place for personal data).
"""

from __future__ import annotations

import hashlib

from django.conf import settings

from domains.common.ratelimit import enforce

MESSAGES = {
    "register": "Too many registrations; try again later.",
    "password_reset": "Too many reset requests; try again later.",
    "contact": "Too many messages; try again later.",
    "checkout": "Too many checkouts; try again later.",
    "login": "Too many login attempts; try again later.",
}


def _digest(value: str) -> str:
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]


def check(action: str, *, ip: str | None = None, account: str | None = None) -> None:
    limits = settings.RATE_LIMITS.get(action) or {}
    message = MESSAGES.get(action)
    for kind, identity in (("ip", ip), ("account", account)):
        rate = limits.get(kind)
        if rate is None or not identity:
            continue
        limit, window = rate
        enforce(f"abuse:{action}:{kind}:{_digest(str(identity))}", limit=limit, window=window, message=message)
