"""Per-process cache of authentication look-ups, revoked at once in every process.

Turning an access token into its session and user, or a scanner's device token into its
device, is a SQL query on every request. This keeps the loaded rows in a small in-process LRU
(keyed by session id / token hash). Each entry depends on *scopes* (a user, a session, a
device) whose current version lives in the shared cache (Redis in production): every write
that can revoke or change what an entry holds bumps the version of its scope once the
transaction commits (`changed`), and every use of an entry first reads the versions of its
scopes, all in one MGET (`fresh`). A mismatch, a missing version, an error of the shared cache
or an entry older than AUTH_CACHE_SECONDS (default 60, 0 = off) means a reload from the
database, so a logout, a password or role change, a deactivation or a device revocation
refuses the very next request in any process.

Order matters for correctness: a miss reads (and creates) the versions *before* loading the
rows, so a revocation that commits while we load leaves us holding an already stale version.
Values are handed out as copies: a request may change its viewer in memory (a form that then
fails validation) without touching the cached row.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.base import ModelState

log = logging.getLogger(__name__)

MAX_ENTRIES = 10_000
VERSION_TTL = 24 * 3600  # a vanished version only costs a reload


def ttl_seconds() -> int:
    return settings.AUTH_CACHE_SECONDS


def _key(scope: str) -> str:
    return f"authv:{scope}"


class Unavailable(Exception):
    """The shared cache did not answer: callers use the database."""


def versions(scopes: Sequence[str]) -> list[Any]:
    """The current version of each scope, one round trip (None where there is none)."""
    keys = [_key(s) for s in scopes]
    try:
        found = cache.get_many(keys)
    except Exception as exc:  # noqa: BLE001 - Redis down: no cache, never a failure
        raise Unavailable(type(exc).__name__) from None
    return [found.get(k) for k in keys]


def _ensure(scopes: Sequence[str]) -> list[Any]:
    """The current version of each scope, creating the ones that have none. On Redis one round
    trip (SET NX + MGET): a cold look-up, such as every buyer's first request in an on-sale rush,
    paid three or four."""
    keys = [_key(s) for s in scopes]
    get_or_add_many = getattr(cache, "get_or_add_many", None)
    try:
        if get_or_add_many is not None:
            found = get_or_add_many({k: uuid.uuid4().hex for k in keys}, timeout=VERSION_TTL)
        else:  # the local memory cache of development and tests without Redis
            found = cache.get_many(keys)
            missing = [k for k in keys if k not in found]
            for k in missing:
                cache.add(k, uuid.uuid4().hex, timeout=VERSION_TTL)
            if missing:
                found = cache.get_many(keys)
    except Exception as exc:  # noqa: BLE001 - Redis down: no cache, never a failure
        raise Unavailable(type(exc).__name__) from None
    current = [found.get(k) for k in keys]
    if any(v is None for v in current):
        raise Unavailable("version not kept")
    return current


def changed(*scopes: str) -> None:
    """Everything cached under these scopes is stale, in every process: bumped now and again
    once the current transaction commits. The first bump makes the writing connection's next
    look-up reload (it sees its own uncommitted rows); the second closes the window in which
    another process could reload the rows as they were before the commit and cache them under
    the first bump's version. A rolled-back write only costs a reload."""
    if not scopes:
        return

    def bump() -> None:
        for scope in scopes:
            try:
                cache.set(_key(scope), uuid.uuid4().hex, timeout=VERSION_TTL)
            except Exception:  # noqa: BLE001
                # Other processes keep their entries at most AUTH_CACHE_SECONDS; this one drops all.
                log.error("auth cache: version of %s not bumped (shared cache unavailable)", scope)
                for lru in _all:
                    lru.clear()

    bump()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(bump)


class RequestVersions:
    """The versions read during one request, so that its look-ups share one MGET: a look-up
    that will come later (the scanner's device) names its scopes with `want`, and the first
    read fetches them too. Keep one per request, never longer (versions go stale)."""

    def __init__(self):
        self.read: dict[str, Any] = {}
        self.wanted: list[str] = []

    def want(self, scopes: Sequence[str]) -> None:
        self.wanted.extend(s for s in scopes if s not in self.read)

    def get(self, scopes: Sequence[str]) -> list[Any]:
        missing = [s for s in scopes if s not in self.read]
        if missing:
            ask = list(dict.fromkeys([*missing, *self.wanted]))
            self.wanted = []
            for scope, version in zip(ask, versions(ask), strict=True):
                self.read[scope] = version
        return [self.read[s] for s in scopes]


def clone(obj):
    """A copy of a model instance and of the related instances it holds (fresh _state)."""
    new = object.__new__(type(obj))
    values = obj.__dict__.copy()
    state = ModelState()
    state.db, state.adding = obj._state.db, False
    state.fields_cache = {name: (clone(rel) if rel is not None else None) for name, rel in obj._state.fields_cache.items()}
    values["_state"] = state
    new.__dict__.update(values)
    return new


_all: list[VersionedLRU] = []


class VersionedLRU:
    """key -> (scopes, versions, expiry, value); see the module docstring."""

    def __init__(self, name: str, maxsize: int = MAX_ENTRIES):
        self.name = name
        self.maxsize = maxsize
        self._data: OrderedDict[Any, tuple[tuple[str, ...], list, float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        _all.append(self)

    def get(
        self, key, scopes: Sequence[str], load: Callable[[], Any], *, copy: Callable[[Any], Any] = clone,
        request: RequestVersions | None = None,
    ):
        """`load()` (None = nothing to cache) or a copy of the value cached for `key`, provided the
        versions of `scopes` are those it was loaded under (read through `request` when given)."""
        seconds = ttl_seconds()
        if seconds <= 0:
            return load()
        scopes = tuple(scopes)
        entry = self._data.get(key)
        try:
            if entry is not None and entry[0] == scopes and entry[2] > time.monotonic():
                current = request.get(scopes) if request is not None else versions(scopes)
                if current == entry[1]:
                    return copy(entry[3])
            current = _ensure(scopes)
        except Unavailable:
            return load()
        value = load()
        if value is not None:
            with self._lock:
                self._data[key] = (scopes, current, time.monotonic() + seconds, value)
                self._data.move_to_end(key)
                while len(self._data) > self.maxsize:
                    self._data.popitem(last=False)
            return copy(value)
        return value

    def scopes_of(self, key) -> tuple[str, ...]:
        """The scopes of the entry cached for `key` (none when there is none), unchecked."""
        entry = self._data.get(key)
        return entry[0] if entry is not None else ()

    def drop(self, key) -> None:
        with self._lock:
            self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
