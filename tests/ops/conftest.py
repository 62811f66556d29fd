"""Fixtures of the operations tests: the log lines as production formats them, and the events
Sentry would send."""

from __future__ import annotations

import json
import logging

import pytest

from festival.logging import JsonFormatter, RequestContextFilter


class JsonLines(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.addFilter(RequestContextFilter())
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))

    def parsed(self):
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def json_logs():
    handler = JsonLines()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.fixture
def sentry_events():
    import sentry_sdk
    from sentry_sdk.transport import Transport

    from festival.sentry import init_sentry

    events: list[dict] = []

    class Capture(Transport):
        def capture_envelope(self, envelope):
            for item in envelope.items:
                if item.headers.get("type") in ("event", "transaction"):
                    events.append(json.loads(item.get_bytes()))

    init_sentry("http://public@127.0.0.1:9/1", environment="test", transport=Capture)
    yield events
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # no DSN: disabled again
