"""One Redis connection pool per process for Django's cache.

Django keeps a cache object per thread, and each RedisCache builds its own connection pool.
Under ASGI every request runs in a fresh thread (ThreadSensitiveContext), so every request
opened a new Redis connection (7-10 ms measured on the gate benchmark). Pools are
thread-safe and fork-aware, so all cache objects of a process share one per URL+options.
"""

from __future__ import annotations

import threading

import redis


class SharedConnectionPool(redis.ConnectionPool):
    _pools: dict[tuple, redis.ConnectionPool] = {}
    _lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **kwargs) -> redis.ConnectionPool:
        key = (url, tuple(sorted((name, repr(value)) for name, value in kwargs.items())))
        with cls._lock:
            pool = cls._pools.get(key)
            if pool is None:
                pool = redis.ConnectionPool.from_url(url, **kwargs)
                cls._pools[key] = pool
            return pool
