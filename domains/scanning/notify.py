"""Telling dashboards that the figures changed (the `scanStatsUpdated` subscription).

A message is only a prompt: subscribers re-read the figures from the database, so a dropped,
duplicated or late message cannot show wrong numbers. Publishing is coalesced across all
processes with one cache key per festival and time slot: at most one group_send per
festival per `SLOT` seconds however fast the gates scan. A commit that falls in a slot whose
message already went out is picked up by the subscriber's follow-up read (it re-reads once
more `FOLLOW_UP` seconds after each prompt, and FOLLOW_UP > SLOT).
"""

from __future__ import annotations

import logging
import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache

log = logging.getLogger(__name__)

MESSAGE_TYPE = "scan.stats.changed"
SLOT = 0.25
FOLLOW_UP = 0.6


def stats_group(festival_public_id) -> str:
    return f"scanstats.{festival_public_id.hex if hasattr(festival_public_id, 'hex') else festival_public_id}"


# The latest slot this process has claimed or seen claimed, per group: later commits in the same
# slot skip the shared cache (its key is known to exist; one round trip per scan saved).
_claimed: dict[str, int] = {}


def stats_changed(festival_public_id) -> None:
    """Called after a scan commits. Never raises: the scan stands whatever the dashboard does."""
    slot = int(time.time() / SLOT)
    group = stats_group(festival_public_id)
    if _claimed.get(group) == slot:
        return
    try:
        added = cache.add(f"{group}:{slot}", 1, timeout=5)
        _claimed[group] = slot
        if not added:
            return
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(group, {"type": MESSAGE_TYPE})
    except Exception:  # Redis down: the next prompt or the subscriber's periodic read catches up
        log.warning("scan stats prompt not sent", exc_info=True)
