"""Versioned read cache for the public catalogue (festival, ticket types with availability).

A value is computed once per process per *version* of its scope and kept in this process's
memory (no unpickling per request). The version of a scope is one key in the shared cache
(Redis in production), so a write in any process invalidates every process: writers call
`changed(scope)` after their transaction commits (signals for model saves, the inventory
functions for the capacity counters, which use UPDATE and send no signals). Reading costs one
cache GET per scope per request. Entries also expire after `PUBLIC_READ_CACHE_SECONDS`
(default 5): what no write announces (a checkout hold passing its expiry time before the
release job runs) is at most that old. 0 switches the cache off.

A stream of writes must not turn the cache into a recomputation per request: during an
on-sale every checkout hold changes the catalogue, up to hundreds of times a second. A caller
may therefore accept a bounded staleness (`max_stale_ms`; the public catalogue takes
PUBLIC_READ_MAX_STALE_MS, default 1000): after a change, the previous value is still answered
until it is that old, and then one thread per process recomputes it while the others keep
answering the previous value: one recomputation per interval and process instead of one per
write (public reads beside a 100-checkouts-a-second rush: median ~54 requests/s without it,
~97 with it, against ~2,400 with nothing changing; docs/PERFORMANCE.md). Whatever must be
exact does not use it: the sold-out fast path (`peek`), the scan's entry rules, and every
write path, which reads the database.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import threading
import uuid
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from domains.common.clock import now as clock_now

T = TypeVar("T")
# (scope, name) -> (version, valid until, value, computed at)
_memo: dict[tuple[str, str], tuple[str, dt.datetime, object, dt.datetime]] = {}
# (scope, name) -> when a thread of this process started recomputing it (single flight)
_refreshing: dict[tuple, dt.datetime] = {}  # also the response cache's keys (schema/response_cache.py)
REFRESH_CLAIM_LIMIT = dt.timedelta(seconds=10)  # a claim older than this is ignored (its thread died)
# The (scope, version) pairs a request read through this cache (schema/response_cache.py).
_seen: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("readcache_seen", default=None)
_lock = threading.Lock()
MAX_ENTRIES = 256


def _version_key(scope: str) -> str:
    return f"readcache:v:{scope}"


def _version(scope: str) -> str:
    key = _version_key(scope)
    version = cache.get(key)
    if version is None:
        cache.add(key, uuid.uuid4().hex, timeout=None)
        version = cache.get(key) or "none"
    return version


def cached(
    scope: str, name: str, compute: Callable[[], T], *, valid_until: Callable[[T], dt.datetime | None] | None = None,
    setting: str = "PUBLIC_READ_CACHE_SECONDS", max_stale_ms: int = 0,
) -> T:
    """compute() for (scope, name), reused while the scope's version is unchanged, for at most
    `setting` seconds (PUBLIC_READ_CACHE_SECONDS), and not past `valid_until(value)` (a time the
    value goes stale by itself, e.g. the next checkout hold expiry). `max_stale_ms` > 0: after a
    change, the previous value is answered until it is that old, and while another thread of
    this process recomputes it (see the module docstring)."""
    seconds = getattr(settings, setting, 0)
    if not seconds:
        return compute()
    version = _version(scope)
    seen = _seen.get()
    key = (scope, name)
    entry = _memo.get(key)
    now = clock_now()
    claimed = False
    if entry is not None and entry[1] > now:
        if entry[0] == version:
            _note(seen, scope, entry)
            return entry[2]  # type: ignore[return-value]
        serve, claimed = after_change(key, entry[3], now, max_stale_ms)
        if serve:
            _note(seen, scope, entry)
            return entry[2]  # type: ignore[return-value]
    try:
        value = compute()
        until = now + dt.timedelta(seconds=seconds)
        stale_at = valid_until(value) if valid_until else None
        if stale_at is not None:
            until = min(until, stale_at)
        fresh = (version, until, value, now)
        with _lock:
            if len(_memo) >= MAX_ENTRIES:
                _memo.clear()
            _memo[key] = fresh
    finally:
        if claimed:  # released once the new value is in place (or the computation failed)
            release(key)
    _note(seen, scope, fresh)
    return value


def after_change(key: tuple, computed: dt.datetime, at: dt.datetime, max_stale_ms: int) -> tuple[bool, bool]:
    """For a value (or response) whose data has changed since `computed`: (serve it still, this
    thread claimed the recomputation). Served while younger than `max_stale_ms` or while another
    thread of this process recomputes it; otherwise this thread recomputes, claiming it when
    staleness is allowed at all so that the others keep serving meanwhile (`release` after)."""
    if not max_stale_ms:
        return False, False
    if at - computed < dt.timedelta(milliseconds=max_stale_ms):
        return True, False
    with _lock:
        started = _refreshing.get(key)
        if started is not None and at - started < REFRESH_CLAIM_LIMIT:
            return True, False
        _refreshing[key] = at
        return False, True


def release(key: tuple) -> None:
    with _lock:
        _refreshing.pop(key, None)


def _note(seen: dict | None, scope: str, entry: tuple) -> None:
    """Record, for the response cache, the version a value was computed at, when it was
    computed (the oldest of the values read) and until when it holds."""
    if seen is None:
        return
    seen[scope] = entry[0]
    if COMPUTED not in seen or entry[3] < seen[COMPUTED]:
        seen[COMPUTED] = entry[3]
    _note_until(seen, entry[1])


def peek(scope: str, name: str, *, setting: str = "PUBLIC_READ_CACHE_SECONDS"):
    """What cached() would return for (scope, name) right now, without ever computing it:
    None when the cache is off or this process holds no entry that is still current (same
    scope version, not expired). Costs one cache GET when there is an entry, none otherwise."""
    if not getattr(settings, setting, 0):
        return None
    entry = _memo.get((scope, name))
    if entry is None or entry[1] <= clock_now() or entry[0] != _version(scope):
        return None
    return entry[2]


UNTIL = "@until"  # in the `seen` record: the earliest time one of the values read goes stale
COMPUTED = "@computed"  # in the `seen` record: when the oldest of the values read was computed


def _note_until(seen: dict | None, until: dt.datetime) -> None:
    if seen is not None and (UNTIL not in seen or until < seen[UNTIL]):
        seen[UNTIL] = until


def track() -> contextvars.Token:
    """Start recording the scopes read in this context; `seen(token)` returns and stops."""
    return _seen.set({})


def seen(token: contextvars.Token) -> dict:
    """{scope: version, ..., UNTIL: datetime, COMPUTED: datetime} read since `track()`."""
    out = _seen.get() or {}
    _seen.reset(token)
    return out


def versions(scopes: list[str]) -> dict[str, str | None]:
    """The current version of each scope, in one cache round trip."""
    found = cache.get_many([_version_key(s) for s in scopes])
    return {s: found.get(_version_key(s)) for s in scopes}


def changed(*scopes: str) -> None:
    """Invalidate these scopes in every process, once the current transaction commits."""

    def bump():
        for scope in scopes:
            # The new version invalidates this process's entries too (the previous value stays
            # for the readers that accept bounded staleness, see the module docstring).
            try:
                cache.set(_version_key(scope), uuid.uuid4().hex, timeout=None)
            except Exception:  # noqa: BLE001 - cache down: at least this process forgets now,
                _memo_drop(scope)  # the others when their entries expire after the TTL

    transaction.on_commit(bump)


def _memo_drop(scope: str) -> None:
    with _lock:
        for key in [k for k in _memo if k[0] == scope]:
            del _memo[key]


def clear() -> None:
    with _lock:
        _memo.clear()
        _refreshing.clear()
