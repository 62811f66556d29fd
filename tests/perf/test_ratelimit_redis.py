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


@pytest.mark.redis
def test_get_or_add_many_keeps_what_exists_and_adds_the_rest_in_one_round_trip(monkeypatch):
    """The auth cache's cold look-up (domains/common/authcache.py `_ensure`)."""
    if not hasattr(cache, "get_or_add_many"):
        pytest.skip("needs the Redis cache (REDIS_URL)")
    cache.set("goam:old", "kept", timeout=600)
    client = cache._cache.get_client(None, write=True)
    executed = []
    real_pipeline = type(client).pipeline

    def counting_pipeline(self, *args, **kwargs):
        pipe = real_pipeline(self, *args, **kwargs)
        real_execute = pipe.execute
        pipe.execute = lambda *a, **k: executed.append(len(pipe.command_stack)) or real_execute(*a, **k)
        return pipe

    monkeypatch.setattr(type(client), "pipeline", counting_pipeline)
    found = cache.get_or_add_many({"goam:old": "new", "goam:fresh": "added"}, timeout=30)
    assert found == {"goam:old": "kept", "goam:fresh": "added"}
    assert executed == [3]  # 2 SET NX + 1 MGET, sent together
    assert cache.get("goam:old") == "kept" and cache.get("goam:fresh") == "added"
    assert 0 < client.ttl(cache.make_key("goam:fresh")) <= 30
    assert client.ttl(cache.make_key("goam:old")) > 30
