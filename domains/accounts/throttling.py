"""Login throttling per client address and per account, with a growing delay.

Rule: one password check at a time per address and per account (a gate held while the
check runs, so 50 simultaneous guesses get one check and 49 refusals); after
LOGIN_THROTTLE_FREE_FAILURES failures in a row the gate stays shut for 2^(n - free)
seconds, at most LOGIN_THROTTLE_MAX_DELAY. A success clears the failures. Counters
live in the shared cache (Redis in production) so every web process sees them.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache

from domains.common.errors import RateLimited

_GATE_HOLD = 30  # seconds; a crashed check cannot shut the gate for longer than this
_FAILURE_MEMORY = 24 * 3600


def _keys(scope: str, value: str) -> tuple[str, str]:
    digest = hashlib.sha256(value.encode()).hexdigest()[:32]  # no addresses or emails in keys
    return f"login:gate:{scope}:{digest}", f"login:fail:{scope}:{digest}"


def delay_after(failures: int) -> int:
    free = settings.LOGIN_THROTTLE_FREE_FAILURES
    if failures < free:
        return 0
    return min(2 ** (failures - free), settings.LOGIN_THROTTLE_MAX_DELAY)


class LoginGate:
    """Context for one login attempt: `enter()` or RateLimited, then `success()` or `failure()`."""

    def __init__(self, *, client_ip: str, email: str):
        self.scopes = [_keys("ip", client_ip or "unknown"), _keys("acct", email)]
        self.entered: list[str] = []

    def enter(self) -> None:
        for gate, _fail in self.scopes:
            if not cache.add(gate, 1, timeout=_GATE_HOLD):
                self._release()
                ttl = cache.ttl(gate) if hasattr(cache, "ttl") else None
                raise RateLimited(max(1, int(ttl or 1)), "Too many login attempts; try again later.")
            self.entered.append(gate)

    def _release(self) -> None:
        for gate in self.entered:
            cache.delete(gate)
        self.entered = []

    def success(self) -> None:
        for gate, fail in self.scopes:
            cache.delete(fail)
        self._release()

    def failure(self) -> None:
        for gate, fail in self.scopes:
            cache.add(fail, 0, timeout=_FAILURE_MEMORY)
            failures = cache.incr(fail)
            wait = delay_after(failures)
            if wait:
                cache.set(gate, 1, timeout=wait)  # keep the gate shut for the delay
            else:
                cache.delete(gate)
        self.entered = []
