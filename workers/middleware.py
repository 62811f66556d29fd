"""Dramatiq middleware: logs written while a job runs carry its actor name and message id,
and the request id of the request that enqueued it (an opaque hex id, never personal data)."""

from __future__ import annotations

import dramatiq

from festival.logging import request_context


class JobLogContext(dramatiq.Middleware):
    def before_enqueue(self, broker, message, delay):
        request_id = request_context.get().get("request_id")
        if request_id and "request_id" not in message.options:
            message.options["request_id"] = request_id

    def before_process_message(self, broker, message):
        context = {"actor": message.actor_name, "message_id": message.message_id, "transport": "job"}
        if message.options.get("request_id"):
            context["request_id"] = message.options["request_id"]
        if message.options.get("retries"):
            context["redelivered"] = message.options["retries"]
        request_context.set(context)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        request_context.set({})

    def after_skip_message(self, broker, message):
        request_context.set({})
