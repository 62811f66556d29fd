"""Log capture for tests that must see records caplog cannot (loggers that do not propagate)."""

from __future__ import annotations

import logging


class RecordCollector(logging.Handler):
    """Keeps every record at `level` or above."""

    def __init__(self, level: int = logging.ERROR):
        super().__init__(level=level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)
