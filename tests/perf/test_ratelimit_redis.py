"""The Redis rate-limit counter is one pipelined INCR + EXPIRE NX (festival/cache.py)."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from domains.common.ratelimit import hit


@pytest.mark.redis
def test_counter_counts_and_expires_with_the_window():
    if not hasattr(cache, "incr_expire"):
        pytest.skip("needs the Redis cache (REDIS_URL)")
    results = [hit("perf-test", limit=3, window=60) for _ in range(5)]
    assert [r.count for r in results] == [1, 2, 3, 4, 5]
    assert [r.allowed for r in results] == [True, True, True, False, False]
    client = cache._cache.get_client(None, write=True)
    key = next(iter(client.scan_iter(match=f"{cache.key_prefix}:*rl:perf-test:*")))
    assert 0 < client.ttl(key) <= 61
    assert cache._cache.get_client(None) is client  # one client object per pool
