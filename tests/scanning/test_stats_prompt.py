"""The scan-stats prompt (domains/scanning/notify.py) with the Redis channel layer: sent by the
process's publisher thread, not by the committing request, and coalesced per time slot."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

from domains.scanning import notify

pytestmark = pytest.mark.redis


def test_prompt_goes_out_from_the_publisher_thread_once_per_slot(monkeypatch):
    layer = get_channel_layer()
    assert not isinstance(layer, InMemoryChannelLayer)  # the suite's settings with REDIS_URL
    festival_id = uuid.uuid4()
    group = notify.stats_group(festival_id)
    senders = []
    send = type(layer).group_send

    async def recording_send(self, group_name, message):
        if group_name == group:
            senders.append(threading.current_thread().name)
        return await send(self, group_name, message)

    monkeypatch.setattr(type(layer), "group_send", recording_send)
    slot = notify.SLOT

    async def scenario():  # one event loop: the layer's receive buffer belongs to it
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        # Three commits in one slot: one prompt, sent by the publisher thread.
        monkeypatch.setattr(notify, "_clock", lambda: 1_000_000 * slot)
        for _ in range(3):
            notify.stats_changed(festival_id)
        assert await asyncio.wait_for(layer.receive(channel), 5) == {"type": notify.MESSAGE_TYPE}
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(layer.receive(channel), 0.5)
        assert senders == ["scan-stats-publisher"]
        # The next slot sends again.
        monkeypatch.setattr(notify, "_clock", lambda: 1_000_001 * slot)
        notify.stats_changed(festival_id)
        assert await asyncio.wait_for(layer.receive(channel), 5) == {"type": notify.MESSAGE_TYPE}
        assert senders == ["scan-stats-publisher"] * 2

    async_to_sync(scenario)()
