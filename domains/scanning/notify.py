"""Telling dashboards that the figures changed (the `scanStatsUpdated` subscription).

A message is only a prompt: subscribers re-read the figures from the database, so a dropped,
duplicated or late message cannot show wrong numbers. Publishing is coalesced across all
processes with one cache key per festival and time slot: at most one group_send per
festival per `SLOT` seconds however fast the gates scan. A commit that falls in a slot whose
message already went out is picked up by the subscriber's follow-up read (it re-reads once
more `FOLLOW_UP` seconds after each prompt, and FOLLOW_UP > SLOT).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.core.cache import cache

log = logging.getLogger(__name__)

MESSAGE_TYPE = "scan.stats.changed"
SLOT = 0.25
FOLLOW_UP = 0.6


_clock = time.time  # tests move it


def stats_group(festival_public_id) -> str:
    return f"scanstats.{festival_public_id.hex if hasattr(festival_public_id, 'hex') else festival_public_id}"


# The latest slot this process has claimed or seen claimed, per group: later commits in the same
# slot skip the shared cache (its key is known to exist; one round trip per scan saved).
_claimed: dict[str, int] = {}


def stats_changed(festival_public_id) -> None:
    """Called after a scan commits. Never raises: the scan stands whatever the dashboard does.
    With the Redis channel layer the prompt is handed to this process's publisher thread, so the
    scan's request does no Redis round trip for it (section 5 of docs/PERFORMANCE.md)."""
    slot = int(_clock() / SLOT)
    group = stats_group(festival_public_id)
    if _claimed.get(group) == slot:
        return
    try:
        layer = get_channel_layer()
        if layer is not None and not isinstance(layer, InMemoryChannelLayer):
            _claimed[group] = slot  # later commits of this slot skip straight to the return above
            _publisher().prompt(group)
        elif _claim(group, slot) and layer is not None:
            async_to_sync(layer.group_send)(group, {"type": MESSAGE_TYPE})
    except Exception:  # Redis down: the next prompt or the subscriber's periodic read catches up
        log.warning("scan stats prompt not sent", exc_info=True)


def _claim(group: str, slot: int) -> bool:
    """Whether this process is the one (of all processes) to send the group's prompt for `slot`."""
    added = cache.add(f"{group}:{slot}", 1, timeout=5)
    _claimed[group] = slot
    return added


class _Publisher:
    """One daemon thread per process with its own event loop, so the channel layer keeps its
    Redis connection between prompts (async_to_sync from a WSGI thread made a new loop, a new
    thread and a new connection for every prompt). The in-memory layer (development) is not
    used from here: its queues belong to the ASGI server's loop."""

    def __init__(self):
        self.pid = os.getpid()
        self._pending: set[str] = set()
        self._wake = threading.Condition()
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._run, name="scan-stats-publisher", daemon=True).start()

    def prompt(self, group: str) -> None:
        with self._wake:
            self._pending.add(group)
            self._wake.notify()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        while True:
            with self._wake:
                while not self._pending:
                    self._wake.wait()
                groups, self._pending = self._pending, set()
            for group in groups:
                try:
                    if _claim(group, int(_clock() / SLOT)):
                        self._loop.run_until_complete(get_channel_layer().group_send(group, {"type": MESSAGE_TYPE}))
                except Exception:  # noqa: BLE001 - never let the thread die; see stats_changed
                    log.warning("scan stats prompt not sent", exc_info=True)


_current: _Publisher | None = None
_current_lock = threading.Lock()


def _publisher() -> _Publisher:
    """This process's publisher; a forked worker starts its own (threads do not survive a fork)."""
    global _current
    found = _current
    if found is None or found.pid != os.getpid():
        with _current_lock:
            found = _current
            if found is None or found.pid != os.getpid():
                found = _current = _Publisher()
    return found
