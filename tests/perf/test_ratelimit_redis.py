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


@pytest.mark.redis
def test_incr_expire_many_counts_each_counter_with_its_expiry_in_one_command(monkeypatch):
    """The scan's two counters (device, staff account): one script call; it survives Redis
    forgetting the script (a restart, SCRIPT FLUSH)."""
    if not hasattr(cache, "incr_expire_many"):
        pytest.skip("needs the Redis cache (REDIS_URL)")
    client = cache._cache.get_client(None, write=True)
    client.delete(cache.make_key("iem:a"), cache.make_key("iem:b"))
    assert cache.incr_expire_many([("iem:a", 20), ("iem:b", 40)]) == [1, 1]
    assert cache.incr_expire_many([("iem:a", 20), ("iem:b", 40)]) == [2, 2]
    assert 0 < client.ttl(cache.make_key("iem:a")) <= 20 and 20 < client.ttl(cache.make_key("iem:b")) <= 40
    # EXPIRE NX: a later hit does not push the window's end out.
    client.expire(cache.make_key("iem:a"), 5)
    assert cache.incr_expire_many([("iem:a", 20)]) == [3]
    assert client.ttl(cache.make_key("iem:a")) <= 5
    # A counter without an expiry (written by anything else) gets one on its next hit.
    client.persist(cache.make_key("iem:b"))
    cache.incr_expire_many([("iem:b", 40)])
    assert 0 < client.ttl(cache.make_key("iem:b")) <= 40

    client.script_flush()
    sent = []
    real = type(client).execute_command
    monkeypatch.setattr(type(client), "execute_command", lambda self, *a, **k: sent.append(a[0]) or real(self, *a, **k))
    assert cache.incr_expire_many([("iem:a", 20), ("iem:b", 40)]) == [4, 4]
    assert sent[-1] == "EVALSHA"
    sent.clear()
    assert cache.incr_expire_many([("iem:a", 20), ("iem:b", 40)]) == [5, 5]
    assert sent == ["EVALSHA"]  # one command per call
    assert cache.incr_expire_many([]) == []
