"""`scanStatsUpdated`: live gate figures for the staff dashboard (graphql-transport-ws).

The first figures go out at once (a late client does not wait for the next scan). After that a
channel-layer message (domains/scanning/notify.py) is only a prompt to re-read: pushes are
coalesced to at most one per MIN_INTERVAL, unchanged figures are not sent, one follow-up read
after each prompt (and after the first figures) catches commits whose own prompt was coalesced
away, and a slow periodic read covers prompts the layer dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
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


@database_sync_to_async
def _festival(event_id):
    return selectors.festival_for_event(event_id)


@database_sync_to_async
def _stats(festival):
    return selectors.scan_stats(festival=festival)


@strawberry.type
class ScanningSubscription:
    @strawberry.subscription(extensions=staff_only(), description="Gate figures now, then again whenever they change.")
    async def scan_stats_updated(self, info: Info, event_id: strawberry.ID | None = None) -> AsyncGenerator[ScanStatsType, None]:
        try:
            festival = await _festival(event_id)
        except DomainError as exc:  # no such event (or none current yet): a typed refusal
            raise graphql_error_from(exc) from None
        ws = info.context["ws"]
        loop = asyncio.get_running_loop()
        async with ws.listen_to_channel(notify.MESSAGE_TYPE, groups=[notify.stats_group(festival.public_id)]) as messages:
            prompt = asyncio.Event()

            async def pump():
                async for _ in messages:
                    prompt.set()

            pump_task = asyncio.create_task(pump())
            try:
                current = await _stats(festival)
                yield ScanStatsType.from_stats(current)
                last_push = loop.time()
                # One follow-up read after the first figures too: a commit right after them, in
                # a slot whose prompt went out before this client listened, sends no prompt.
                follow_up = True
                while True:
                    try:
                        await asyncio.wait_for(prompt.wait(), timeout=notify.FOLLOW_UP if follow_up else PERIODIC)
                        prompted = True
                    except TimeoutError:
                        prompted = False
                    wait = last_push + MIN_INTERVAL - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    prompt.clear()
                    try:
                        fresh = await _stats(festival)
                    except Exception:  # a database blip: keep the dashboard, read again later
                        log.warning("scan stats re-read failed", exc_info=True)
                        follow_up = True
                        continue
                    follow_up = prompted
                    if fresh != current:
                        current = fresh
                        yield ScanStatsType.from_stats(current)
                        last_push = loop.time()
            finally:
                pump_task.cancel()
                with contextlib.suppress(BaseException):
                    await pump_task
