"""`scanStatsUpdated`: live gate figures for the staff dashboard (graphql-transport-ws).

The first figures go out at once (a late client does not wait for the next scan). After that a
channel-layer message (domains/scanning/notify.py) is only a prompt to re-read: pushes are
coalesced to at most one per MIN_INTERVAL, unchanged figures are not sent, one follow-up read
after each prompt (and after the first figures) catches commits whose own prompt was coalesced
away, and a slow periodic read covers prompts the layer dropped.

The viewer is authenticated again at most every REAUTHENTICATE seconds while the subscription
runs (festival/asgi.py `FestivalWSConsumer.reauthenticate`: HTTP's rules, through the auth cache,
one Redis MGET when nothing changed), and the field's own permissions are asked again: once a
staff member logs out, is demoted or deactivated, the stream ends with their refusal
(UNAUTHENTICATED or FORBIDDEN) and the socket is closed (4403).

Every read is shared: the subscribers of one festival in a process wait for one computation of
the figures (`_SharedStats`), so the dashboards cost the database the same whether one or
fifty are open. (Each read had been its own: five aggregate queries, ~30 ms with 20,000
tickets, per subscriber per push; 41 watchers under gate load waited ~3.7 s for their first
figures.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncGenerator

import strawberry
from channels.db import database_sync_to_async
from strawberry.types import Info

from domains.common.errors import DomainError
from domains.scanning import notify, selectors
from schema.errors import graphql_error_from
from schema.permissions import staff_only
from schema.scanning.types import ScanStatsType

log = logging.getLogger(__name__)

MIN_INTERVAL = 0.3  # seconds between two pushes to one client
PERIODIC = 10.0  # re-read without any prompt (the layer may drop messages)
REAUTHENTICATE = 5.0  # seconds: at most this long a refused viewer still gets figures

# The field's permissions, also asked again while it runs (`_still_permitted`).
_PERMISSIONS = staff_only()


@database_sync_to_async
def _festival(event_id):
    return selectors.festival_for_event(event_id)


@database_sync_to_async
def _stats(festival):
    return selectors.scan_stats(festival=festival)


class _SharedStats:
    """The figures of one festival for every subscriber in this process (one event loop).

    `read()` answers with a computation that starts no earlier than the call, so it includes
    every commit whose prompt had arrived: a computation already running began too early and
    is not reused, but everyone who asks while it runs shares the single one queued behind it.
    At most one runs and one waits, however many subscribers there are."""

    def __init__(self, festival):
        self._festival = festival
        self._running: asyncio.Task | None = None
        self._next: asyncio.Future | None = None  # shared by all who ask before it starts

    async def read(self):
        future = self._next
        if future is None:
            future = self._next = asyncio.get_running_loop().create_future()
            # A waiter that goes away (cancelled) leaves the outcome unread: not an error.
            future.add_done_callback(lambda f: f.cancelled() or f.exception())
            if self._running is None:
                self._start()
        return await asyncio.shield(future)

    def _start(self) -> None:
        future, self._next = self._next, None
        self._running = asyncio.get_running_loop().create_task(self._compute(future))

    async def _compute(self, future: asyncio.Future) -> None:
        try:
            future.set_result(await _stats(self._festival))
        except Exception as exc:  # every waiter gets it (the subscription decides what it means)
            future.set_exception(exc)
        finally:
            self._running = None
            if self._next is not None:
                self._start()


_shared: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> {festival pk: _SharedStats}


async def _still_permitted(info: Info) -> None:
    """The viewer authenticated again (if the last check is REAUTHENTICATE old) and the field's
    permissions asked again; raises their refusal (UNAUTHENTICATED or FORBIDDEN) as at subscribe."""
    reauthenticate = info.context.get("reauthenticate") if isinstance(info.context, dict) else None
    if reauthenticate is None:
        return
    await reauthenticate(REAUTHENTICATE)
    for extension in _PERMISSIONS:
        for permission in extension.permissions:
            if not permission.has_permission(None, info):
                permission.on_unauthorized()


def _shared_stats(festival) -> _SharedStats:
    by_festival = _shared.setdefault(asyncio.get_running_loop(), {})
    if festival.pk not in by_festival:
        by_festival[festival.pk] = _SharedStats(festival)
    return by_festival[festival.pk]


@strawberry.type
class ScanningSubscription:
    @strawberry.subscription(extensions=_PERMISSIONS, description="Gate figures now, then again whenever they change.")
    async def scan_stats_updated(self, info: Info, event_id: strawberry.ID | None = None) -> AsyncGenerator[ScanStatsType, None]:
        try:
            festival = await _festival(event_id)
        except DomainError as exc:  # no such event (or none current yet): a typed refusal
            raise graphql_error_from(exc) from None
        ws = info.context["ws"]
        loop = asyncio.get_running_loop()
        shared = _shared_stats(festival)
        async with ws.listen_to_channel(notify.MESSAGE_TYPE, groups=[notify.stats_group(festival.public_id)]) as messages:
            prompt = asyncio.Event()

            async def pump():
                async for _ in messages:
                    prompt.set()

            pump_task = asyncio.create_task(pump())
            try:
                current = await shared.read()
                yield ScanStatsType.from_stats(current)
                last_push = checked_at = loop.time()  # checked at subscribe (festival/asgi.py)
                # One follow-up read after the first figures too: a commit right after them, in
                # a slot whose prompt went out before this client listened, sends no prompt.
                read_at = loop.time() + notify.FOLLOW_UP
                while True:
                    # Woken by a prompt, at the next read without one, or to check the viewer.
                    try:
                        await asyncio.wait_for(prompt.wait(), timeout=max(0.0, min(read_at, checked_at + REAUTHENTICATE) - loop.time()))
                        prompted = True
                    except TimeoutError:
                        prompted = False
                    await _still_permitted(info)
                    checked_at = loop.time()
                    if not prompted and loop.time() < read_at:
                        continue
                    wait = last_push + MIN_INTERVAL - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    prompt.clear()
                    try:
                        fresh = await shared.read()
                    except Exception:  # a database blip: keep the dashboard, read again later
                        log.warning("scan stats re-read failed", exc_info=True)
                        read_at = loop.time() + notify.FOLLOW_UP
                        continue
                    if fresh != current:
                        current = fresh
                        yield ScanStatsType.from_stats(current)
                        last_push = loop.time()
                    # After a prompt, one follow-up read (a commit whose own prompt was coalesced
                    # away); otherwise the slow periodic one.
                    read_at = loop.time() + (notify.FOLLOW_UP if prompted else PERIODIC)
            finally:
                pump_task.cancel()
                with contextlib.suppress(BaseException):
                    await pump_task
