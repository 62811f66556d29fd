"""Dramatiq messages captured instead of sent, and delivered by hand as a worker would."""

from __future__ import annotations

import dramatiq


def capture_enqueued(monkeypatch) -> list[dramatiq.Message]:
    """The messages enqueued from now on, in order; none reaches a worker."""
    broker = dramatiq.get_broker()
    messages: list[dramatiq.Message] = []

    def enqueue(message, *, delay=None):
        messages.append(message)
        return message

    monkeypatch.setattr(broker, "enqueue", enqueue)
    return messages


def deliver(message: dramatiq.Message):
    """One delivery of `message`, as a worker runs it (a redelivery or a retry is another)."""
    return dramatiq.get_broker().get_actor(message.actor_name)(*message.args, **message.kwargs)
