"""Fixed-window rate limits on the shared cache (Redis in production, so all processes agree)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.core.cache import cache

from domains.common.errors import RateLimited

try:
    from redis.exceptions import RedisError
except ImportError:  # pragma: no cover - redis is a dependency
    RedisError = ConnectionError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateLimitResult:
    allowed: bool
    count: int
    retry_after: int


def hit(key: str, *, limit: int, window: int) -> RateLimitResult:
    """Count one event under `key`; allowed while at most `limit` happened in this window.

    With the cache (Redis) down the event is allowed and a warning logged: an outage of the
    counters must not take registration, checkout or the gates down with it.
    """
    try:
        return _hit(key, limit=limit, window=window)
    except (ConnectionError, OSError, RedisError) as exc:
        log.warning("rate limit not counted: cache unavailable (%s)", type(exc).__name__)
        return RateLimitResult(True, 0, 1)


def _hit(key: str, *, limit: int, window: int) -> RateLimitResult:
    bucket = int(time.time() // window)
    cache_key = f"rl:{key}:{bucket}"
    incr_expire = getattr(cache, "incr_expire", None)  # Redis (festival.cache): one round trip
    if incr_expire is not None:
        count = incr_expire(cache_key, window + 1)
    # add() is atomic: the first caller creates the counter with its expiry.
    elif cache.add(cache_key, 1, timeout=window + 1):
        count = 1
    else:
        try:
            count = cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.add(cache_key, 1, timeout=window + 1)
            count = 1
    retry_after = max(1, int((bucket + 1) * window - time.time()))
    return RateLimitResult(count <= limit, count, retry_after)


def claim(key: str, *, owner: str, window: int) -> bool:
    """The one slot of `key` for `window` seconds, taken by `owner`: True when it was free, or
    is already `owner`'s (a retry of the same piece of work, which `hit` would count again and
    refuse). With the cache down the claim is granted and a warning logged, as `hit` does."""
    try:
        if cache.add(f"rl-claim:{key}", owner, timeout=window):
            return True
        return cache.get(f"rl-claim:{key}") == owner
    except (ConnectionError, OSError, RedisError) as exc:
        log.warning("rate limit not counted: cache unavailable (%s)", type(exc).__name__)
        return True


def hit_many(limits: list[tuple[str, int, int]]) -> list[RateLimitResult]:
    """`hit` for several (key, limit, window) at once: one round trip on Redis."""
    many = getattr(cache, "incr_expire_many", None)
    if many is None:
        return [hit(key, limit=limit, window=window) for key, limit, window in limits]
    t = time.time()
    buckets = [int(t // window) for _key, _limit, window in limits]
    try:
        counts = many([(f"rl:{key}:{bucket}", window + 1) for (key, _l, window), bucket in zip(limits, buckets, strict=True)])
    except (ConnectionError, OSError, RedisError) as exc:
        log.warning("rate limit not counted: cache unavailable (%s)", type(exc).__name__)
        return [RateLimitResult(True, 0, 1) for _ in limits]
    return [
        RateLimitResult(count <= limit, count, max(1, int((bucket + 1) * window - t)))
        for (_key, limit, window), bucket, count in zip(limits, buckets, counts, strict=True)
    ]


def enforce_many(limits: list[tuple[str, int, int, str | None]]) -> None:
    """`enforce` for several (key, limit, window, message) counted in one round trip; the first
    one exceeded raises."""
    results = hit_many([(key, limit, window) for key, limit, window, _message in limits])
    for (_key, _limit, _window, message), result in zip(limits, results, strict=True):
        if not result.allowed:
            raise RateLimited(result.retry_after, message) if message else RateLimited(result.retry_after)


def enforce(key: str, *, limit: int, window: int, message: str | None = None) -> None:
    """Raise RateLimited (with Retry-After seconds) once `limit` is passed in the window."""
    result = hit(key, limit=limit, window=window)
    if not result.allowed:
        if message:
            raise RateLimited(result.retry_after, message)
        raise RateLimited(result.retry_after)
