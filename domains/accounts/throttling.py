"""Login throttling per account and per client address, with a growing delay.

Rules:
- Per account: one password check at a time (a gate held while the check runs, so 50
  simultaneous guesses at one account get one check and 49 refusals), and after
  LOGIN_THROTTLE_FREE_FAILURES failures in a row the gate stays shut for
  2^(n - free) seconds, at most LOGIN_THROTTLE_MAX_DELAY. A success clears the failures.
- Per address: failures are counted across accounts (credential stuffing) and past
  LOGIN_THROTTLE_FREE_IP_FAILURES the address waits the same growing delay. Successful
  logins from one address are never serialised: a festival's Wi-Fi puts thousands of
  honest people behind one address.
Counters live in the shared cache (Redis in production) so every web process sees them.
"""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache

from domains.common.errors import RateLimited

_GATE_HOLD = 30  # seconds; a crashed check cannot shut the gate for longer than this
_FAILURE_MEMORY = 24 * 3600


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]  # no addresses or emails in keys


def delay_after(failures: int, free: int) -> int:
    if failures < free:
        return 0
    return min(2 ** (failures - free), settings.LOGIN_THROTTLE_MAX_DELAY)


def _shut(key: str, wait: int) -> None:
    """Keep `key` shut for `wait` seconds; the value is the deadline, so every cache
    backend (not only Redis, which knows TTLs) can tell the client how long to wait."""
    cache.set(key, time.time() + wait, timeout=wait)


def _refuse(key: str) -> RateLimited:
    deadline = cache.get(key)
    wait = math.ceil(deadline - time.time()) if isinstance(deadline, float) else 1
    return RateLimited(max(1, wait), "Too many login attempts; try again later.")


class LoginGate:
    """One login attempt: `enter()` (or RateLimited), then `success()` or `failure()`."""

    def __init__(self, *, client_ip: str, email: str):
        account = _digest(email)
        address = _digest(client_ip or "unknown")
        self.account_gate = f"login:gate:acct:{account}"
        self.account_failures = f"login:fail:acct:{account}"
        self.address_wait = f"login:wait:ip:{address}"
        self.address_failures = f"login:fail:ip:{address}"
        self.entered = False

    def enter(self) -> None:
        if cache.get(self.address_wait):
            raise _refuse(self.address_wait)
        if not cache.add(self.account_gate, 1, timeout=_GATE_HOLD):
            raise _refuse(self.account_gate)
        self.entered = True

    def success(self) -> None:
        cache.delete(self.account_failures)
        cache.delete(self.account_gate)
        self.entered = False

    def failure(self) -> None:
        account_wait = delay_after(self._count(self.account_failures), settings.LOGIN_THROTTLE_FREE_FAILURES)
        if account_wait:
            _shut(self.account_gate, account_wait)  # keep the gate shut
        else:
            cache.delete(self.account_gate)
        address_wait = delay_after(self._count(self.address_failures), settings.LOGIN_THROTTLE_FREE_IP_FAILURES)
        if address_wait:
            _shut(self.address_wait, address_wait)
        self.entered = False

    @staticmethod
    def _count(key: str) -> int:
        cache.add(key, 0, timeout=_FAILURE_MEMORY)
        try:
            return cache.incr(key)
        except ValueError:  # expired in between
            cache.set(key, 1, timeout=_FAILURE_MEMORY)
            return 1
